/**
 * The episodic log: an append-only, hash-chained record of every event of every agent.
 *
 * @example
 * const log = await openLog({ dir: ".agent-os/log" });
 * const e = await log.append({ type: "spawn", runId: "r1", pid: 1, agent: "a", data: {} });
 * (await log.verify()).ok; // true
 * await log.close();
 */
import { createMemoryBackend } from "./memory.js";
import { openLevelBackend } from "../hosts/node/log/level.js";
import { createChainLog, type KernelLog } from "./log.js";

export type { KernelLog } from "./log.js";
export { encodeValue, decodeValue, canonicalJson, chainHash, eventBody, GENESIS, type JsonValue } from "./encoding.js";

/**
 * Options of {@link openLog}: `dir` is the LevelDB directory (created, with its parents, if
 * missing; no default here: the kernel passes ".agent-os/log"), or `false` for an in-memory
 * log; `now` is the clock for event times (default `Date.now`; event times never go backwards).
 */
export interface LogOptions {
  dir: string | false;
  now?: () => number;
}

/**
 * Opens the log in a directory, resuming its chain, or (with `false`) an in-memory log with
 * the same behaviour and the same hashes, but not durable.
 *
 * @example const log = await openLog({ dir: ".agent-os/log" }); // or openLog(false) in tests
 * @throws LogError "the log at DIR is in use by another process" when another kernel holds it,
 *   or "cannot open the log at DIR: ..." for any other failure.
 */
export async function openLog(options: LogOptions | false): Promise<KernelLog> {
  if (options === false || options.dir === false) return createChainLog(createMemoryBackend(), { now: options ? options.now : undefined });
  const backend = await openLevelBackend(options.dir);
  try {
    return await createChainLog(backend, { now: options.now });
  } catch (err) {
    await backend.close();
    throw err;
  }
}
