/**
 * SHA-256, synchronous everywhere: the hash chain seals an event before `stage` returns, and
 * Web Crypto's digest is asynchronous. Where the host has Node's crypto (Node, Bun, Deno, or
 * workerd with `nodejs_compat`), its native hash is used; elsewhere (a browser, workerd without
 * it) @noble/hashes, an audited pure-JS implementation. Both give the same digest; a test
 * compares them on random inputs.
 *
 * Node's crypto is reached through `process.getBuiltinModule`, never a static `node:` import,
 * so that this module bundles for any platform.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";

/** The part of Node's crypto module used here. */
interface NodeCrypto {
  hash?: (algorithm: string, data: string | Uint8Array, encoding: "hex") => string;
  createHash(algorithm: string): { update(data: string | Uint8Array): { digest(encoding: "hex"): string } };
}

/** Node's crypto module when the host has it, without importing it statically. */
function nodeCrypto(): NodeCrypto | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    return proc?.getBuiltinModule?.("node:crypto") as NodeCrypto | undefined;
  } catch {
    return undefined;
  }
}

/** Hex SHA-256 in pure JS (UTF-8 for a string), whatever the host. */
export function sha256HexPortable(data: string | Uint8Array): string {
  return bytesToHex(sha256(typeof data === "string" ? utf8ToBytes(data) : data));
}

function pick(): (data: string | Uint8Array) => string {
  const native = nodeCrypto();
  if (typeof native?.hash === "function") {
    const hash = native.hash;
    return (data) => hash("sha256", data, "hex");
  }
  if (native) return (data) => native.createHash("sha256").update(data).digest("hex");
  return sha256HexPortable;
}

/**
 * Hex SHA-256 of a string (as UTF-8) or bytes: Node's one-call `crypto.hash` where the host has
 * it, @noble/hashes elsewhere.
 *
 * @example sha256Hex("") === "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
 */
export const sha256Hex: (data: string | Uint8Array) => string = pick();

/** Whether this host hashes natively (Node's crypto) or in pure JS. */
export const sha256Native: boolean = sha256Hex !== sha256HexPortable;
