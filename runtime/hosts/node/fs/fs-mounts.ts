/**
 * Mounts as the command line and the API give them: `--mount /guest=hostdir[:options]` and
 * `{ "/guest": "hostdir" | { host, readOnly, allowHardLinks } }`, checked once, when the kernel
 * is created.
 */
import { existsSync, realpathSync, statSync } from "node:fs";
import { resolve as resolveHostPath } from "node:path";
import { canonicalPath } from "../../../canonical.js";
import { GuestError, UsageError } from "../../../errors.js";
import type { Mount } from "../../../capabilities/types.js";

/**
 * A mount in the API form. Defaults: read-write, hard-linked files refused (see Mount).
 *
 * @example { host: "./ws", readOnly: true } // or { host: "./store", allowHardLinks: true }
 */
export interface MountSpec {
  host: string;
  readOnly?: boolean;
  allowHardLinks?: boolean;
}

/** The options `--mount` takes after the last `:`, comma-separated. */
const MOUNT_OPTIONS = ["ro", "rw", "hardlinks"] as const;

/**
 * Parses `--mount /guest=hostdir[:opt[,opt]]`, where the options are `ro` (read-only), `rw`
 * (read-write, the default) and `hardlinks` (allow files with more than one hard link). A
 * suffix that is not a list of these options is part of the host directory's name. The host
 * directory is resolved against `cwd` to an absolute real path; it must exist and be a directory.
 *
 * @example parseMount("/data=./data:ro") // { guest: "/data", host: "/abs/data", readOnly: true, allowHardLinks: false }
 * @example parseMount("/ws=./ws:rw,hardlinks") // { ..., readOnly: false, allowHardLinks: true }
 * @throws UsageError for a malformed spec, `ro` with `rw`, an option given twice, or a host
 *   directory that does not exist.
 */
export function parseMount(spec: string, cwd: string = process.cwd()): Mount {
  const eq = spec.indexOf("=");
  if (eq <= 0) throw new UsageError(`--mount expects /guest=hostdir[:ro|:rw][,hardlinks], got ${JSON.stringify(spec)}`);
  const { host, readOnly, allowHardLinks } = mountSpecOf(spec.slice(eq + 1), spec);
  return makeMount(spec.slice(0, eq), host, { readOnly: readOnly === true, allowHardLinks: allowHardLinks === true }, cwd);
}

/**
 * The host directory and options of `--mount`'s value (`hostdir[:opt[,opt]]`, see parseMount),
 * in the API form; the directory is not checked here.
 *
 * @example mountSpecOf("./ws:ro,hardlinks") // { host: "./ws", readOnly: true, allowHardLinks: true }
 * @throws UsageError for `ro` with `rw` or an option given twice (`spec` names the flag's value in the message).
 */
export function mountSpecOf(value: string, spec: string = value): MountSpec {
  const colon = value.lastIndexOf(":");
  const words = colon < 0 ? [] : value.slice(colon + 1).split(",");
  const isOptions = colon >= 0 && words.every((w) => (MOUNT_OPTIONS as readonly string[]).includes(w));
  if (!isOptions) return { host: value, readOnly: false, allowHardLinks: false };
  const seen = new Set<string>();
  for (const option of words) {
    if (seen.has(option)) throw new UsageError(`--mount ${spec}: the option ${option} is given twice`);
    seen.add(option);
  }
  if (seen.has("ro") && seen.has("rw")) throw new UsageError(`--mount ${spec}: give ro or rw, not both`);
  return { host: value.slice(0, colon), readOnly: seen.has("ro"), allowHardLinks: seen.has("hardlinks") };
}

/**
 * Normalizes the API form of mounts: `{ "/workspace": "./ws", "/data": { host: "./data", readOnly: true } }`.
 * Relative host directories are resolved against the current directory.
 *
 * @example normalizeMounts({ "/workspace": "./ws" }) // [{ guest: "/workspace", host: "/abs/ws", readOnly: false, allowHardLinks: false }]
 * @throws UsageError for a bad guest path, a missing host directory, a flag that is not a
 *   boolean, or the same guest path twice.
 */
export function normalizeMounts(record: Record<string, string | MountSpec>): Mount[] {
  const mounts: Mount[] = [];
  for (const [guest, value] of Object.entries(record)) {
    const host = typeof value === "string" ? value : value?.host;
    if (typeof host !== "string") throw new UsageError(`mount ${guest}: the host directory must be a string`);
    const flags = { readOnly: false, allowHardLinks: false };
    if (typeof value !== "string") {
      for (const key of ["readOnly", "allowHardLinks"] as const) {
        if (value[key] !== undefined && typeof value[key] !== "boolean") throw new UsageError(`mount ${guest}: ${key} must be true or false`);
        flags[key] = value[key] === true;
      }
    }
    const mount = makeMount(guest, host, flags, process.cwd());
    if (mounts.some((m) => m.guest === mount.guest)) throw new UsageError(`mount ${mount.guest} is given twice`);
    mounts.push(mount);
  }
  return mounts;
}

function makeMount(guestSpec: string, hostSpec: string, flags: { readOnly: boolean; allowHardLinks: boolean }, cwd: string): Mount {
  let guest: string;
  try {
    guest = canonicalPath(guestSpec);
  } catch (err) {
    throw new UsageError(`mount: bad guest path ${JSON.stringify(guestSpec)}: ${err instanceof GuestError ? err.error.val : err}`);
  }
  if (hostSpec === "") throw new UsageError(`mount ${guest}: the host directory is empty`);
  const abs = resolveHostPath(cwd, hostSpec);
  if (!existsSync(abs) || !statSync(abs).isDirectory()) {
    // A mistyped option reads as part of the directory's name: say which options exist.
    const hint = /:[a-z,]+$/.test(hostSpec) ? ` (mount options after ":" are ${MOUNT_OPTIONS.join(", ")})` : "";
    throw new UsageError(`mount ${guest}: ${abs} does not exist or is not a directory${hint}`);
  }
  return { guest, host: realpathSync(abs), ...flags };
}
