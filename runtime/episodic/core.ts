/**
 * The log's portable core, for hosts without Node (a browser, workerd without `nodejs_compat`):
 * the hash chain, its encoding, the in-memory backend, verify, query, and the readers that
 * replay and decide a run again. Nothing reachable from here imports a `node:` module or uses
 * `Buffer` or `process` (a test bundles it for the browser and runs it without them); the bytes
 * and hashes are those the Node build makes. LevelDB (`level.ts`), reading a log another process
 * holds (`reader.ts`) and loading a policy from a file (`counterfactual.ts`) stay in
 * `index.ts` and beside it, on Node.
 *
 * @example
 * const log = await createChainLog(createMemoryBackend());
 * await log.append({ type: "spawn", runId: "r1", pid: 1, agent: "a", data: {} });
 * (await log.verify()).ok; // true
 */
export { createChainLog, type ChainLogOptions, type KernelLog } from "./log.js";
export { createMemoryBackend } from "./memory.js";
export { verifyChain } from "./verify.js";
export { queryEvents, decisionOf } from "./query.js";
export { parseRecord, type LogBackend } from "./backend.js";
export { encodeValue, decodeValue, canonicalJson, chainHash, eventBody, sealEvent, GENESIS, type JsonValue } from "./encoding.js";
export { readRun, locateRun, findRunAt, type RecordedRun, type RecordedCall, type StopPoint } from "./recording.js";
export { formatEvent } from "./format.js";
export { Replayer, type ReplayResult, type ReplayerOptions } from "./replay.js";
export { redecideRunWith, type CounterfactualOptions, type CounterfactualReport, type DecisionChange } from "./redecide.js";
export { observeRuns, type ObservedRun } from "./observed.js";
