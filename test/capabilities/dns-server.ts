/**
 * A real DNS server for tests: UDP on 127.0.0.1, speaking the DNS wire protocol (RFC 1035), so
 * that the kernel's resolver (`dnsResolver`, node:dns underneath) asks it exactly as it would ask
 * any server. It answers A queries with what the test's function says, which may change from one
 * query to the next (a rebinding server), and AAAA queries (RFC 3596) from a table of IPv6
 * addresses per name (none by default: an empty answer).
 */
import { createSocket, type RemoteInfo } from "node:dgram";
import { isIPv4, isIPv6 } from "node:net";

export interface DnsServer {
  /** "127.0.0.1:PORT", for dnsResolver. */
  address: string;
  /** Every question asked, in order: name (lower case) and type. */
  queries: { name: string; type: string }[];
  close(): Promise<void>;
}

/** What to answer to the n-th (0-based) A query for `name`: IPv4 addresses (none: an empty answer). */
export type DnsAnswers = (name: string, n: number) => string[];

const TYPES: Record<number, string> = { 1: "A", 28: "AAAA" };

/** Starts a server: A answers from `answer`, AAAA answers from `aaaa` (lower-case name -> IPv6 addresses). */
export async function startDnsServer(answer: DnsAnswers, aaaa: Record<string, string[]> = {}): Promise<DnsServer> {
  const socket = createSocket("udp4");
  const queries: DnsServer["queries"] = [];
  const asked = new Map<string, number>();
  socket.on("message", (msg: Buffer, from: RemoteInfo) => {
    const question = parseQuestion(msg);
    if (!question) return; // not a query we understand: no answer, as a server that drops it
    const type = TYPES[question.type] ?? String(question.type);
    queries.push({ name: question.name, type });
    let addresses: string[] = [];
    if (type === "A") {
      const n = asked.get(question.name) ?? 0;
      asked.set(question.name, n + 1);
      addresses = answer(question.name, n);
    } else if (type === "AAAA") addresses = aaaa[question.name] ?? [];
    socket.send(response(msg, question.end, addresses), from.port, from.address);
  });
  await new Promise<void>((done) => socket.bind(0, "127.0.0.1", done));
  const { port } = socket.address();
  return {
    address: `127.0.0.1:${port}`,
    queries,
    close: () => new Promise<void>((done) => socket.close(() => done())),
  };
}

/** The first question of a query: its name, type, and where the question section ends. */
function parseQuestion(msg: Buffer): { name: string; type: number; end: number } | null {
  if (msg.length < 12 || (msg[2] & 0x80) !== 0 || msg.readUInt16BE(4) < 1) return null;
  const labels: string[] = [];
  let at = 12;
  while (at < msg.length && msg[at] !== 0) {
    const len = msg[at];
    if (len > 63 || at + 1 + len > msg.length) return null;
    labels.push(msg.toString("latin1", at + 1, at + 1 + len));
    at += 1 + len;
  }
  if (at + 5 > msg.length) return null;
  const type = msg.readUInt16BE(at + 1);
  return { name: labels.join(".").toLowerCase(), type, end: at + 5 };
}

/** A response: the query's id and question, then one A or AAAA record per address (TTL 0). */
function response(query: Buffer, questionEnd: number, addresses: string[]): Buffer {
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2); // id
  header.writeUInt16BE(0x8180, 2); // a response, recursion desired and available, no error
  header.writeUInt16BE(1, 4); // one question
  header.writeUInt16BE(addresses.length, 6);
  const records = addresses.map((address) => {
    const v4 = isIPv4(address);
    if (!v4 && !isIPv6(address)) throw new Error(`the test DNS server answers IP addresses only, not ${address}`);
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
    rr.writeUInt16BE(v4 ? 1 : 28, 2); // A or AAAA
    rr.writeUInt16BE(1, 4); // IN
    rr.writeUInt32BE(0, 6); // TTL 0: never cached
    rr.writeUInt16BE(v4 ? 4 : 16, 10);
    return Buffer.concat([rr, v4 ? Buffer.from(address.split(".").map(Number)) : ipv6Bytes(address)]);
  });
  return Buffer.concat([header, query.subarray(12, questionEnd), ...records]);
}

/** The 16 bytes of an IPv6 address written in any RFC 4291 spelling. */
function ipv6Bytes(address: string): Buffer {
  let text = address;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1].split(".").map(Number);
    text = text.slice(0, -dotted[1].length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [left, right] = text.split("::");
  const l = left ? left.split(":") : [];
  const r = right !== undefined && right !== "" ? right.split(":") : [];
  const words = [...l, ...new Array<string>(8 - l.length - r.length).fill("0"), ...r];
  const out = Buffer.alloc(16);
  words.forEach((w, i) => out.writeUInt16BE(parseInt(w, 16), i * 2));
  return out;
}
