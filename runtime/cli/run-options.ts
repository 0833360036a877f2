/**
 * The flags of `agent-os run` turned into kernel options, strictly: one parser per kind of
 * value (the library's own for databases), plain numbers accepted where a unit is optional, a
 * name given twice or a name every JavaScript object already has refused, a limit above what
 * the kernel can give refused rather than clamped.
 */
import { mountSpecOf, type MountSpec } from "../hosts/node/fs/fs-mounts.js";
import { parseDatabase } from "../hosts/node/sql/sql.js";
import { UsageError } from "../errors.js";
import { DEFAULT_MAX_HEAP_BYTES } from "../hosts/node/pool/pool.js";
import { parseCount, parseDuration, parseSize, type Parsed } from "../policy/units.js";
import { secretsFromOptions } from "../policy/secrets.js";
import type { Limits, SecretSpec } from "../types.js";

/** A plain number of the flag's base unit (`30000` ms, `67108864` bytes) as a number; anything else as given. */
function numeric(value: string): string | number {
  return /^\d+$/.test(value) ? Number(value) : value;
}

/**
 * A limit flag's value: a whole number of the base unit, or a string with a unit.
 *
 * @example limitFlag("30000", parseDuration, "timeout") === 30000
 * @throws UsageError naming the flag and what it expects.
 */
export function limitFlag(value: unknown, parse: (v: unknown, min?: number) => Parsed<number>, flag: string, min = 1): number | undefined {
  if (value === undefined) return undefined;
  const parsed = parse(numeric(String(value)), min);
  if (!parsed.ok) throw new UsageError(`run: --${flag} ${String(value)}: expected ${parsed.expected}`);
  return parsed.value;
}

/**
 * `--fuel`, `--memory` and `--timeout` as limits. `--memory` above the worker pool's heap cap
 * (`maxHeapBytes`, 1 GiB) is refused: the kernel could not give it.
 *
 * @example limitsFrom({ timeout: "30000", memory: "64MiB" }) // { wallTime: 30000, memory: 67108864 }
 * @throws UsageError for a malformed value or a memory limit above the cap.
 */
export function limitsFrom(flags: Record<string, unknown>): Partial<Limits> {
  const limits: Partial<Limits> = {};
  const fuel = limitFlag(flags.fuel, parseCount, "fuel");
  const memory = limitFlag(flags.memory, parseSize, "memory");
  const wallTime = limitFlag(flags.timeout, parseDuration, "timeout");
  if (memory !== undefined && memory > DEFAULT_MAX_HEAP_BYTES) {
    throw new UsageError(`run: --memory ${String(flags.memory)}: more than the kernel's heap cap of ${DEFAULT_MAX_HEAP_BYTES / 2 ** 30} GiB (${DEFAULT_MAX_HEAP_BYTES} bytes, the worker pool's maxHeapBytes)`);
  }
  if (fuel !== undefined) limits.fuel = fuel;
  if (memory !== undefined) limits.memory = memory;
  if (wallTime !== undefined) limits.wallTime = wallTime;
  return limits;
}

/** A key every JavaScript object already has (`__proto__`, `constructor`, ...): never a name. */
function inheritedName(name: string): boolean {
  return name in Object.prototype;
}

/**
 * `--mount /GUEST=HOST[:ro|:rw][,hardlinks]` flags as mounts (options as `mountSpecOf` reads them). The same guest path twice is refused (the kernel
 * also refuses two spellings of one path).
 *
 * @example mountsFrom(["/workspace=./ws", "/data=./data:ro"]) // { "/workspace": { host: "./ws", readOnly: false }, ... }
 * @throws UsageError for a malformed flag or a guest path given twice.
 */
export function mountsFrom(list: string[] | undefined): Record<string, MountSpec> {
  const out: Record<string, MountSpec> = Object.create(null) as Record<string, MountSpec>;
  for (const item of list ?? []) {
    const eq = item.indexOf("=");
    if (eq <= 0 || eq === item.length - 1) throw new UsageError(`run: --mount ${item}: expected /GUEST=HOST[:ro|:rw][,hardlinks]`);
    const guest = item.slice(0, eq);
    if (Object.hasOwn(out, guest)) throw new UsageError(`run: --mount ${guest} is given twice`);
    out[guest] = mountSpecOf(item.slice(eq + 1), item);
  }
  return out;
}

/**
 * `--db NAME=FILE[:ro]` flags as databases, through the library's parser (`parseDatabase`: the
 * name's form, a read-only file that must exist). A name given twice, or one like `__proto__`,
 * is refused.
 *
 * @example databasesFrom(["main=./app.db", "ref=./ref.db:ro"]) // { main: { file: "/abs/app.db", readOnly: false }, ... }
 * @throws UsageError naming the flag and what is wrong with it.
 */
export function databasesFrom(list: string[] | undefined, command = "run"): Record<string, { file: string; readOnly: boolean }> {
  const out: Record<string, { file: string; readOnly: boolean }> = Object.create(null) as Record<string, { file: string; readOnly: boolean }>;
  for (const spec of list ?? []) {
    const name = spec.slice(0, Math.max(0, spec.indexOf("=")));
    if (inheritedName(name)) throw new UsageError(`${command}: --db ${spec}: ${JSON.stringify(name)} cannot name a database (every JavaScript object has it)`);
    let parsed: ReturnType<typeof parseDatabase>;
    try {
      parsed = parseDatabase(spec);
    } catch (error) {
      if (error instanceof UsageError) throw new UsageError(`${command}: ${error.message}`, { cause: error });
      throw error;
    }
    if (Object.hasOwn(out, parsed[0])) throw new UsageError(`${command}: --db ${parsed[0]} is given twice`);
    out[parsed[0]] = parsed[1];
  }
  return out;
}

/**
 * `--stop-timeout`: how long a run may stay stopped (by a policy's `stop`, which nobody can
 * continue from the command line) before it is ended. Default 30 s; 0 ends it at once.
 *
 * @example stopTimeoutFrom("2s") === 2000
 */
export function stopTimeoutFrom(value: unknown): number {
  return limitFlag(value, parseDuration, "stop-timeout", 0) ?? DEFAULT_STOP_TIMEOUT_MS;
}

/** The default of `--stop-timeout`. */
export const DEFAULT_STOP_TIMEOUT_MS = 30_000;

const SECRET_FLAG = "NAME=ENV@ORIGIN[,ORIGIN...][:HEADER[:FORMAT]]";
const ORIGIN_AT = /^https?:\/\/(\[[^\]]*\]|[^/:,@[\]]+)(:\d+)?\/?/i;

/**
 * `--secret NAME=ENV@ORIGIN[,ORIGIN...][:HEADER[:FORMAT]]` flags as secrets. Without HEADER the
 * secret is a bearer token (`Authorization: Bearer {value}`); with HEADER and no FORMAT the
 * header's value is the secret's value. Checked as a policy's `secrets:` block is; a name given
 * twice is refused.
 *
 * @example secretsFrom(["github=GITHUB_TOKEN@https://api.github.com"]) // [{ name: "github", env: "GITHUB_TOKEN", origins: [...], header: "Authorization", format: "Bearer {value}" }]
 * @throws UsageError naming the flag and what is wrong with it.
 */
export function secretsFrom(list: string[] | undefined): SecretSpec[] {
  const out: SecretSpec[] = [];
  for (const item of list ?? []) {
    // (named by NAME only: a value pasted into the flag by mistake is not printed back)
    const bad = (why: string) => new UsageError(`run: --secret ${item.split(/[=@]/)[0].slice(0, 64)}: ${why}`);
    const m = /^([^=@]+)=([^=@]+)@(.+)$/s.exec(item);
    if (!m) throw bad(`expected ${SECRET_FLAG}`);
    const origins: string[] = [];
    let rest = m[3];
    for (;;) {
      const origin = ORIGIN_AT.exec(rest);
      if (!origin) throw bad(`expected an origin such as https://api.github.com after @ or a comma`);
      origins.push(origin[0]);
      rest = rest.slice(origin[0].length);
      if (!rest.startsWith(",")) break;
      rest = rest.slice(1);
    }
    if (rest !== "" && !rest.startsWith(":")) throw bad(`expected :HEADER after the origins, got ${JSON.stringify(rest.slice(0, 40))}`);
    const colon = rest.indexOf(":", 1);
    const header = rest === "" ? "Authorization" : rest.slice(1, colon === -1 ? undefined : colon);
    const format = rest === "" ? "Bearer {value}" : colon === -1 ? "{value}" : rest.slice(colon + 1);
    let spec: SecretSpec;
    try {
      [spec] = secretsFromOptions([{ name: m[1], env: m[2], origins, header, format }]);
    } catch (error) {
      if (error instanceof UsageError) throw bad(error.message.replace(/secrets\[0\]\.?/g, ""));
      throw error;
    }
    if (out.some((s) => s.name === spec.name)) throw new UsageError(`run: --secret ${spec.name} is given twice`);
    out.push(spec);
  }
  return out;
}

/**
 * `--approvals`, `--approvals-policy FILE` and `--approval-timeout DURATION` as
 * `KernelOptions.approvals` (either of the last two implies the first). Answers come through the
 * mailbox beside the log, so approvals need a log.
 *
 * @example approvalsFrom({ "approvals-policy": "./approved.yaml" }) // { approvals: { policyFile: "./approved.yaml" } }
 * @throws UsageError with --no-log, or a malformed timeout.
 */
export function approvalsFrom(flags: Record<string, unknown>): { approvals?: { policyFile?: string; timeout?: number } } {
  const file = flags["approvals-policy"] as string | undefined;
  const timeout = limitFlag(flags["approval-timeout"], parseDuration, "approval-timeout");
  if (!flags.approvals && file === undefined && timeout === undefined) return {};
  if (flags["no-log"]) throw new UsageError("run: --approvals needs the log (agent-os approve and deny answer through the mailbox beside it): it cannot go with --no-log");
  return { approvals: { ...(file !== undefined ? { policyFile: file } : {}), ...(timeout !== undefined ? { timeout } : {}) } };
}
