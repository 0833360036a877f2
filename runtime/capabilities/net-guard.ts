/**
 * The kernel's address guard: which IP addresses an agent's HTTP request may reach.
 *
 * Deny by default: loopback, private, link-local, unique-local, CGNAT, cloud-metadata,
 * unspecified, multicast, broadcast and reserved ranges are refused **after DNS resolution**,
 * unless the operator allowed them (`--allow-private`, per host or CIDR). IPv6 addresses that
 * carry an IPv4 address are refused whole where the host itself may connect to that IPv4
 * address (IPv4-mapped, IPv4-compatible, IPv4-translated, local-use NAT64), and by the IPv4
 * address they carry where a translator or relay does (NAT64 `64:ff9b::/96`, 6to4, Teredo). `resolveChecked` returns the very address it checked, so that the connection
 * goes there and nowhere else (no second lookup: DNS rebinding fails).
 *
 * The guard is the kernel's own rule, not a policy rule: its refusals are `denied` without a
 * rule id, with a reason that names the guard. The resolvers that need Node's DNS are in
 * net-dns.ts; this module runs on any host.
 */
import { UsageError, guestErrors } from "../errors.js";

/** Textual IP addresses (see ipVersion): defined before the tables below parse their ranges. */
const V4_OCTET = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]\\d|\\d)";
const V4 = new RegExp(`^${V4_OCTET}(?:\\.${V4_OCTET}){3}$`);
const HEX_WORD = /^[0-9a-fA-F]{1,4}$/;


/** Why an address is refused; "public" addresses are the only ones reachable by default. */
export type AddressKind =
  | "public"
  | "loopback"
  | "private"
  | "link-local"
  | "unique-local"
  | "cgnat"
  | "cloud-metadata"
  | "unspecified"
  | "multicast"
  | "broadcast"
  | "reserved"
  | "ipv4-mapped"
  | "ipv4-compatible"
  | "ipv4-translated";

/** One DNS answer, as `dns.promises.lookup(host, { all: true })` gives it. */
export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to all of its addresses. */
export type Resolver = (host: string) => Promise<ResolvedAddress[]>;

/** An IP range: the address as 4 or 16 bytes and a prefix length in bits. */
export interface Cidr {
  bytes: Uint8Array;
  prefix: number;
}

/** Private targets the operator allowed: host names (lower case) and address ranges. */
export interface AllowPrivate {
  hosts: ReadonlySet<string>;
  cidrs: readonly Cidr[];
}

/** Nothing private allowed: the default. */
export const NO_PRIVATE: AllowPrivate = Object.freeze({ hosts: new Set<string>(), cidrs: [] });

const V4_RANGES: [string, AddressKind][] = [
  ["169.254.169.254/32", "cloud-metadata"],
  ["100.100.100.200/32", "cloud-metadata"],
  ["0.0.0.0/8", "unspecified"],
  ["10.0.0.0/8", "private"],
  ["100.64.0.0/10", "cgnat"],
  ["127.0.0.0/8", "loopback"],
  ["169.254.0.0/16", "link-local"],
  ["172.16.0.0/12", "private"],
  ["192.0.0.0/24", "reserved"],
  ["192.0.2.0/24", "reserved"],
  ["192.88.99.0/24", "reserved"],
  ["192.168.0.0/16", "private"],
  ["198.18.0.0/15", "reserved"],
  ["198.51.100.0/24", "reserved"],
  ["203.0.113.0/24", "reserved"],
  ["224.0.0.0/4", "multicast"],
  ["255.255.255.255/32", "broadcast"],
  ["240.0.0.0/4", "reserved"],
];

const V6_RANGES: [string, AddressKind][] = [
  ["fd00:ec2::254/128", "cloud-metadata"],
  ["::/128", "unspecified"],
  ["::1/128", "loopback"],
  ["100::/64", "reserved"],
  ["2001:db8::/32", "reserved"],
  ["fc00::/7", "unique-local"],
  ["fe80::/10", "link-local"],
  ["fec0::/10", "private"], // site-local (deprecated)
  ["ff00::/8", "multicast"],
];

/**
 * IPv6 forms that carry IPv4 addresses. `whole`: refused whatever they carry, because the host
 * itself may connect to the IPv4 address (the kernel's dual-stack sockets turn `::ffff:a.b.c.d`
 * into a.b.c.d; an SIIT translator serves `::ffff:0:a.b.c.d`), because the form has no business
 * on the wire (IPv4-compatible), or because where the address sits depends on the operator
 * (local-use NAT64, RFC 8215). The others reach the IPv4 address through a translator or relay,
 * and are refused when any IPv4 address they carry would be.
 */
const EMBEDDINGS: { cidr: string; name: string; kind: AddressKind; whole?: boolean; carries(bytes: Uint8Array): Uint8Array[] }[] = [
  { cidr: "::ffff:0:0/96", name: "IPv4-mapped", kind: "ipv4-mapped", whole: true, carries: (b) => [b.slice(12)] },
  { cidr: "::ffff:0:0:0/96", name: "IPv4-translated (SIIT)", kind: "ipv4-translated", whole: true, carries: (b) => [b.slice(12)] },
  { cidr: "::/96", name: "IPv4-compatible", kind: "ipv4-compatible", whole: true, carries: (b) => [b.slice(12)] },
  { cidr: "64:ff9b:1::/48", name: "local-use NAT64", kind: "ipv4-translated", whole: true, carries: () => [] },
  { cidr: "64:ff9b::/96", name: "NAT64", kind: "ipv4-translated", carries: (b) => [b.slice(12)] },
  { cidr: "2002::/16", name: "6to4", kind: "ipv4-translated", carries: (b) => [b.slice(2, 6)] },
  // Teredo: the server at bits 32-63, the client at bits 96-127 with every bit inverted.
  { cidr: "2001::/32", name: "Teredo", kind: "ipv4-translated", carries: (b) => [b.slice(4, 8), b.slice(12).map((x) => x ^ 0xff)] },
];

/** IPv6 ranges decided before the embedded forms: `::`, `::1` and the metadata address lie inside them. */
const V6_FIRST = new Set(["unspecified", "loopback", "cloud-metadata"]);

const V4_TABLE = V4_RANGES.map(([cidr, kind]) => [parseCidr(cidr), kind] as const);
const V6_TABLE = V6_RANGES.map(([cidr, kind]) => [parseCidr(cidr), kind] as const);
const EMBEDDING_TABLE = EMBEDDINGS.map((e) => ({ ...e, range: parseCidr(e.cidr) }));

/** What an address is, and for an IPv6 form that carries IPv4 addresses, which and how. */
export interface AddressClass {
  kind: AddressKind;
  /** The IPv6 form ("NAT64", "6to4", ...) and the IPv4 addresses it carries, dotted. */
  embeds?: { form: string; ipv4: string[] };
}

/**
 * Classifies an IP address (v4 dotted decimal or any v6 spelling, brackets allowed).
 *
 * @example classifyAddress("127.0.0.1") === "loopback"; classifyAddress("::ffff:10.0.0.1") === "ipv4-mapped"
 * @throws UsageError when `address` is not an IP address.
 */
export function classifyAddress(address: string): AddressKind {
  return describeAddress(address).kind;
}

/**
 * Classifies an address like {@link classifyAddress}, and names the IPv4 addresses an IPv6
 * form carries (in every spelling: compressed, zero-padded, upper case, dotted or hex tail).
 *
 * @example describeAddress("64:ff9b::7f00:1") // { kind: "ipv4-translated", embeds: { form: "NAT64", ipv4: ["127.0.0.1"] } }
 * @throws UsageError when `address` is not an IP address.
 */
export function describeAddress(address: string): AddressClass {
  const bytes = parseIp(address);
  if (bytes === null) throw new UsageError(`not an IP address: ${address}`);
  if (bytes.length === 4) return { kind: lookup(V4_TABLE, bytes) };
  const first = lookup(V6_TABLE, bytes);
  if (V6_FIRST.has(first)) return { kind: first };
  const embedding = EMBEDDING_TABLE.find((e) => inCidr(bytes, e.range));
  if (!embedding) return { kind: first };
  const carried = embedding.carries(bytes);
  const embeds = { form: embedding.name, ipv4: carried.map((v4) => v4.join(".")) };
  const refused = embedding.whole || carried.some((v4) => lookup(V4_TABLE, v4) !== "public");
  return { kind: refused ? embedding.kind : first, embeds };
}

function lookup(table: readonly (readonly [Cidr, AddressKind])[], bytes: Uint8Array): AddressKind {
  for (const [cidr, kind] of table) if (inCidr(bytes, cidr)) return kind;
  return "public";
}

/**
 * Parses the operator's list of allowed private targets: IP addresses, CIDRs (`10.0.0.0/8`,
 * `fd00::/8`) or host names (`localhost`, `db.internal`). An allowed host name lets requests
 * to that name reach whatever private address it resolves to.
 *
 * @example parseAllowPrivate(["127.0.0.1", "10.1.0.0/16", "localhost"])
 * @throws UsageError for an entry that is none of these.
 */
export function parseAllowPrivate(list: readonly string[]): AllowPrivate {
  const hosts = new Set<string>();
  const cidrs: Cidr[] = [];
  for (const raw of list) {
    const entry = String(raw).trim().toLowerCase();
    const cidr = entry.includes("/") || parseIp(entry) !== null ? tryParseCidr(entry) : null;
    if (cidr) cidrs.push(cidr);
    else if (/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(entry)) hosts.add(entry);
    else throw new UsageError(`--allow-private: not a host, an IP address or a CIDR: ${JSON.stringify(raw)}`);
  }
  return { hosts, cidrs };
}

/** Whether the operator allowed this address (already parsed) or this host name. */
export function isAllowedPrivate(allow: AllowPrivate, host: string, address: string): boolean {
  if (allow.hosts.has(stripBrackets(host).toLowerCase())) return true;
  const bytes = parseIp(address);
  return bytes !== null && allow.cidrs.some((c) => inCidr(bytes, c));
}

/**
 * Resolves `host` (a URL host name or IP literal) and checks every answer: if any answer is
 * refused, the request is refused (a mixed answer is how rebinding starts). Returns the first
 * answer, which the caller must connect to without resolving again.
 *
 * @example await resolveChecked("api.example.com", NO_PRIVATE, systemResolver) // { address: "93.184.216.34", family: 4 }
 * @throws GuestError `denied` (no rule) for a refused address, `io` when the name does not resolve.
 */
export async function resolveChecked(host: string, allow: AllowPrivate, resolver: Resolver): Promise<ResolvedAddress> {
  const bare = stripBrackets(host);
  let answers: ResolvedAddress[];
  const literal = ipFamily(bare);
  if (literal !== 0) answers = [{ address: bare, family: literal }];
  else {
    try {
      answers = await resolver(bare);
    } catch {
      throw guestErrors.io(`cannot resolve host ${bare}`);
    }
    if (!Array.isArray(answers) || answers.length === 0) throw guestErrors.io(`cannot resolve host ${bare}`);
  }
  for (const answer of answers) {
    const address = String(answer.address);
    if (parseIp(address) === null) throw guestErrors.io(`host ${bare} resolved to a malformed address`);
    const { kind, embeds } = describeAddress(address);
    if (kind !== "public" && !isAllowedPrivate(allow, bare, address)) {
      const via = address === bare ? "" : ` (resolved from ${bare})`;
      const carried = embeds && embeds.ipv4.length > 0 ? ` carrying ${embeds.ipv4.map((v4) => `${v4} (${classifyAddress(v4)})`).join(" and ")}` : "";
      const what = embeds ? `${kind}: ${embeds.form}${carried}` : kind;
      throw guestErrors.denied(null, `address guard: ${address}${via} is ${what}; the kernel refuses private targets unless allowed (--allow-private)`);
    }
  }
  const first = answers[0];
  return { address: String(first.address), family: ipFamily(String(first.address)) === 6 ? 6 : 4 };
}

/** 4 or 6 for an IP address as a URL host or a resolver writes it (no brackets), else 0. */
function ipFamily(text: string): 0 | 4 | 6 {
  const bytes = parseIp(text);
  return bytes === null ? 0 : bytes.length === 4 ? 4 : 6;
}

function stripBrackets(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

/** Parses an IP address into 4 or 16 bytes (v6 zone ids are refused), or null. */
export function parseIp(text: string): Uint8Array | null {
  const address = stripBrackets(text);
  const version = ipVersion(address);
  if (version === 4) return Uint8Array.from(address.split(".").map(Number));
  if (version !== 6 || address.includes("%")) return null;
  let hex = address;
  const lastColon = address.lastIndexOf(":");
  if (address.slice(lastColon + 1).includes(".")) {
    const v4 = parseIp(address.slice(lastColon + 1));
    if (v4 === null || v4.length !== 4) return null;
    hex = `${address.slice(0, lastColon + 1)}${((v4[0] << 8) | v4[1]).toString(16)}:${((v4[2] << 8) | v4[3]).toString(16)}`;
  }
  const halves = hex.split("::");
  if (halves.length > 2) return null;
  const words = (part: string) => (part === "" ? [] : part.split(":").map((w) => parseInt(w, 16)));
  const left = words(halves[0]);
  const right = halves.length === 2 ? words(halves[1]) : [];
  const gap = 8 - left.length - right.length;
  if (halves.length === 2 ? gap < 1 : gap !== 0) return null;
  const all = left.concat(new Array<number>(gap).fill(0), right);
  if (all.some((w) => !(w >= 0 && w <= 0xffff))) return null;
  const out = new Uint8Array(16);
  all.forEach((w, i) => {
    out[i * 2] = w >> 8;
    out[i * 2 + 1] = w & 0xff;
  });
  return out;
}

/**
 * 4 or 6 for a textual IP address as `node:net`'s isIP reads it (dotted decimal without leading
 * zeros; any IPv6 spelling, with a dotted tail or a zone id), else 0: on any host.
 */
function ipVersion(address: string): 0 | 4 | 6 {
  if (V4.test(address)) return 4;
  const zone = address.indexOf("%");
  const bare = zone === -1 ? address : address.slice(0, zone);
  if (zone !== -1 && zone === address.length - 1) return 0;
  const halves = bare.split("::");
  if (halves.length > 2) return 0;
  const groups = halves.map((h) => (h === "" ? [] : h.split(":")));
  const all = groups.flat();
  const last = all[all.length - 1];
  let words = all.length;
  if (last !== undefined && last.includes(".")) {
    // (a dotted tail ends the address: "1.2.3.4::" is not one)
    if (halves[halves.length - 1] === "" || !V4.test(last)) return 0;
    words += 1; // the dotted tail is two words
    all.pop();
  }
  if (!all.every((w) => HEX_WORD.test(w))) return 0;
  return (halves.length === 2 ? words <= 7 : words === 8) ? 6 : 0;
}

function parseCidr(text: string): Cidr {
  const cidr = tryParseCidr(text);
  if (!cidr) throw new UsageError(`not a CIDR: ${text}`);
  return cidr;
}

function tryParseCidr(text: string): Cidr | null {
  const [addr, bits, extra] = text.split("/");
  if (extra !== undefined) return null;
  const bytes = parseIp(addr);
  if (bytes === null) return null;
  const max = bytes.length * 8;
  if (bits !== undefined && !/^\d{1,3}$/.test(bits)) return null;
  const prefix = bits === undefined ? max : Number(bits);
  return prefix <= max ? { bytes, prefix } : null;
}

function inCidr(bytes: Uint8Array, cidr: Cidr): boolean {
  if (bytes.length !== cidr.bytes.length) return false;
  let left = cidr.prefix;
  for (let i = 0; left > 0; i++, left -= 8) {
    const mask = left >= 8 ? 0xff : (0xff << (8 - left)) & 0xff;
    if ((bytes[i] & mask) !== (cidr.bytes[i] & mask)) return false;
  }
  return true;
}
