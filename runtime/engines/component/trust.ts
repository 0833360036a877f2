/**
 * Why the component cache cannot inject code: what the kernel runs from it (the jco glue, which
 * runs in the kernel's workers outside any sandbox, and the instrumented core modules, which
 * carry the fuel checks and the memory cap) is authenticated with a key the cache folder does
 * not hold. Whoever can write the cache can only make the kernel prepare a component again.
 *
 * The key is 32 random bytes in a file of the user's config directory
 * (`$XDG_CONFIG_HOME/agent-os/cache.key`, else `~/.config/agent-os/cache.key`), created with mode
 * 0600 on first use; `KernelOptions.cache.keyFile` names another file, `cache.key` gives the key
 * itself. A key file must be a regular file of the current user that nobody else may read or
 * write. The cache directory and the key file must not be inside any mount (an agent could
 * rewrite the cache, or read the key and sign its own), and no mount may be inside the cache.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { closeSync, existsSync, linkSync, lstatSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { UsageError } from "../../errors.js";
import { realPath, within } from "../../hosts/node/host-paths.js";

export const DEFAULT_CACHE_DIR = ".agent-os/cache";
const KEY_BYTES = 32;

/**
 * Where components are cached and how the cache is authenticated. Defaults: `dir`
 * ".agent-os/cache"; the key from `keyFile`, by default `cache.key` in the user's config
 * directory (created if missing). Give at most one of `key` and `keyFile`.
 */
export interface CacheOptions {
  dir: string;
  /** The key itself: at least 32 bytes, kept by the caller outside the cache. */
  key?: Uint8Array;
  /** A file holding the key (mode 0600, owned by the current user). */
  keyFile?: string;
}

/** A cache ready for use: an absolute directory and the key that authenticates its entries. */
export interface TrustedCache {
  dir: string;
  key: Uint8Array;
}

/** The default key file: in `$XDG_CONFIG_HOME`, else `~/.config`. */
export function defaultKeyFile(): string {
  const config = process.env.XDG_CONFIG_HOME && isAbsolute(process.env.XDG_CONFIG_HOME) ? process.env.XDG_CONFIG_HOME : join(homedir(), ".config");
  return join(config, "agent-os", "cache.key");
}

/**
 * Resolves cache options into a directory and a key, reading (or creating) the key file.
 * @throws UsageError for a bad key, or a key file that others may read or write.
 */
export function trustedCache(options: CacheOptions | string | false | undefined): TrustedCache | false {
  if (options === false) return false;
  const spec = typeof options === "string" ? { dir: options } : (options ?? { dir: DEFAULT_CACHE_DIR });
  if (typeof spec.dir !== "string" || spec.dir === "") throw new UsageError("cache.dir: expected a directory path");
  if (spec.key !== undefined && spec.keyFile !== undefined) throw new UsageError("cache: give key or keyFile, not both");
  if (spec.key !== undefined) {
    if (!(spec.key instanceof Uint8Array) || spec.key.length < KEY_BYTES) throw new UsageError(`cache.key: expected at least ${KEY_BYTES} bytes`);
    return { dir: resolve(spec.dir), key: Uint8Array.from(spec.key) };
  }
  return { dir: resolve(spec.dir), key: readKeyFile(spec.keyFile ?? defaultKeyFile()) };
}

/** The key file of some cache options (none when the key is given directly). */
export function keyFileOf(options: CacheOptions | string | false | undefined): string | undefined {
  if (typeof options === "object" && options.key !== undefined) return undefined;
  return resolve((typeof options === "object" ? options.keyFile : undefined) ?? defaultKeyFile());
}

function readKeyFile(file: string): Uint8Array {
  const path = resolve(file);
  if (!existsSync(path)) createKeyFile(path);
  const stat = lstatSync(path);
  const where = `the component cache's key file ${path}`;
  if (!stat.isFile()) throw new UsageError(`${where} is not a regular file`);
  if (typeof process.getuid === "function" && stat.uid !== process.getuid()) throw new UsageError(`${where} belongs to another user`);
  if ((stat.mode & 0o077) !== 0) throw new UsageError(`${where} may be read or written by others (mode ${(stat.mode & 0o777).toString(8)}); it must be 0600`);
  const key = readFileSync(path);
  if (key.length < KEY_BYTES) throw new UsageError(`${where} holds ${key.length} bytes; a key is at least ${KEY_BYTES}`);
  return new Uint8Array(key);
}

/** Creates a key file atomically: another process creating it at the same time wins, and both use its key. */
function createKeyFile(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  const fd = openSync(temp, "wx", 0o600);
  try {
    writeSync(fd, randomBytes(KEY_BYTES));
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(temp, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  } finally {
    rmSync(temp, { force: true });
  }
}

/** HMAC-SHA256 of a labelled text under the cache's key, in hex. */
export function sign(cache: TrustedCache, label: string, text: string): string {
  return createHmac("sha256", cache.key).update(`agent-os/${label}\n`).update(text).digest("hex");
}

/** Whether `mac` is the cache key's HMAC of the labelled text (in constant time). */
export function verify(cache: TrustedCache, label: string, text: string, mac: unknown): boolean {
  if (typeof mac !== "string" || !/^[0-9a-f]{64}$/.test(mac)) return false;
  return timingSafeEqual(Buffer.from(sign(cache, label, text), "hex"), Buffer.from(mac, "hex"));
}

/**
 * Refuses a cache directory that an agent could reach (inside a mount, or with a mount inside
 * it), and a key file inside a mount, whether or not this kernel caches (the key protects every
 * cache of the user). Paths are compared as they really are (links resolved).
 * @param mounts the mounts, with their host directories as real paths
 * @throws UsageError naming the cache and the mount
 */
export function checkCacheOutsideMounts(options: CacheOptions | false | undefined, mounts: { guest: string; host: string }[]): void {
  const cacheDir = options === false ? undefined : (options?.dir ?? DEFAULT_CACHE_DIR);
  const cache = cacheDir === undefined ? undefined : realPath(cacheDir);
  const keyFile = keyFileOf(options);
  const key = keyFile === undefined ? undefined : realPath(keyFile);
  for (const mount of mounts) {
    if (cache !== undefined && within(cache, mount.host)) {
      throw new UsageError(`the component cache ${cache} is inside mount ${mount.guest} (${mount.host}): an agent could write code into it; put the cache elsewhere (cache.dir) or cache: false`);
    }
    if (cache !== undefined && within(mount.host, cache)) {
      throw new UsageError(`mount ${mount.guest} (${mount.host}) is inside the component cache ${cache}: an agent could write code into it`);
    }
    if (key !== undefined && within(key, mount.host)) {
      throw new UsageError(`the component cache's key file ${key} is inside mount ${mount.guest} (${mount.host}): an agent could read it and sign code of its own`);
    }
  }
}
