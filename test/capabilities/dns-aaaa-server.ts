/**
 * A real DNS server for tests that answers AAAA queries: UDP on 127.0.0.1, the DNS wire protocol
 * (RFC 1035, RFC 3596), so that `dnsResolver` (node:dns) asks it as it would ask any server. AAAA
 * queries get the IPv6 addresses the test names for the host; A queries get an empty answer.
 */
import { createSocket, type RemoteInfo } from "node:dgram";
import { isIPv6 } from "node:net";

export interface Dns6Server {
  /** "127.0.0.1:PORT", for dnsResolver. */
  address: string;
  /** Names asked for AAAA records, in order. */
  asked: string[];
  close(): Promise<void>;
}

/** Starts a server answering AAAA queries from `records` (lower-case name -> IPv6 addresses). */
export async function startDns6Server(records: Record<string, string[]>): Promise<Dns6Server> {
  const socket = createSocket("udp4");
  const asked: string[] = [];
  socket.on("message", (msg: Buffer, from: RemoteInfo) => {
    const q = parseQuestion(msg);
    if (!q) return;
    const aaaa = q.type === 28;
    if (aaaa) asked.push(q.name);
    const addresses = aaaa ? (records[q.name] ?? []) : [];
    socket.send(response(msg, q.end, addresses), from.port, from.address);
  });
  await new Promise<void>((done) => socket.bind(0, "127.0.0.1", done));
  return {
    address: `127.0.0.1:${socket.address().port}`,
    asked,
    close: () => new Promise<void>((done) => socket.close(() => done())),
  };
}

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
  return { name: labels.join(".").toLowerCase(), type: msg.readUInt16BE(at + 1), end: at + 5 };
}

/** The 16 bytes of an IPv6 address written in any RFC 4291 spelling. */
function ipv6Bytes(address: string): Buffer {
  if (!isIPv6(address)) throw new Error(`not an IPv6 address: ${address}`);
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

function response(query: Buffer, questionEnd: number, addresses: string[]): Buffer {
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2);
  header.writeUInt16BE(0x8180, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(addresses.length, 6);
  const records = addresses.map((address) => {
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // the question's name
    rr.writeUInt16BE(28, 2); // AAAA
    rr.writeUInt16BE(1, 4); // IN
    rr.writeUInt32BE(0, 6); // TTL 0
    rr.writeUInt16BE(16, 10);
    return Buffer.concat([rr, ipv6Bytes(address)]);
  });
  return Buffer.concat([header, query.subarray(12, questionEnd), ...records]);
}
