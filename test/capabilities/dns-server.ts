/**
 * A real DNS server for tests: UDP on 127.0.0.1, speaking the DNS wire protocol (RFC 1035), so
 * that the kernel's resolver (`dnsResolver`, node:dns underneath) asks it exactly as it would ask
 * any server. It answers A queries with what the test's function says, which may change from one
 * query to the next (a rebinding server); AAAA queries get an empty answer.
 */
import { createSocket, type RemoteInfo } from "node:dgram";
import { isIPv4 } from "node:net";

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

export async function startDnsServer(answer: DnsAnswers): Promise<DnsServer> {
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
    }
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

/** A response: the query's id and question, then one A record per address (TTL 0). */
function response(query: Buffer, questionEnd: number, addresses: string[]): Buffer {
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2); // id
  header.writeUInt16BE(0x8180, 2); // a response, recursion desired and available, no error
  header.writeUInt16BE(1, 4); // one question
  header.writeUInt16BE(addresses.length, 6);
  const records = addresses.map((address) => {
    if (!isIPv4(address)) throw new Error(`the test DNS server answers IPv4 addresses only, not ${address}`);
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
    rr.writeUInt16BE(1, 2); // A
    rr.writeUInt16BE(1, 4); // IN
    rr.writeUInt32BE(0, 6); // TTL 0: never cached
    rr.writeUInt16BE(4, 10);
    address.split(".").forEach((part, i) => rr.writeUInt8(Number(part), 12 + i));
    return rr;
  });
  return Buffer.concat([header, query.subarray(12, questionEnd), ...records]);
}
