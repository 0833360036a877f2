/**
 * The options and agent type of KernelSpace (kernel.ts), apart so that the kernel's file stays
 * readable; kernel.ts re-exports them.
 */
import type { ApprovalsOptions } from "../approvals/index.js";
import type { ComponentImage } from "../engines/component/image.js";
import type { CacheOptions } from "../engines/component/trust.js";
import type { EngineName } from "../engines/engine.js";
import type { KernelLog } from "../episodic/index.js";
import type { Verifier } from "../gate.js";
import type { PoolOptions } from "../hosts/node/pool/pool.js";
import type { Limits, Policy } from "../types.js";
import type { SharedRates } from "../gate.js";
import type { VerificationOptions } from "../verify/settings.js";
import type { CapabilityOptions } from "./capabilities.js";
import type { Isolation } from "./hosts.js";

/** An agent the kernel can spawn: from `register` (a function) or `load` (a module file). */
export interface Agent {
  readonly name: string;
  readonly kind: "module" | "function";
  readonly engine: EngineName;
  readonly source: string;
  /** Hex sha256 of the source (of the component's bytes, for a component): the spawn event records it, replay checks it. */
  readonly codeHash: string;
  /** The prepared component (engine "component"): what the pool's workers instantiate. */
  readonly component?: ComponentImage;
}

/**
 * Options of a KernelSpace. Defaults: `policy` "strict"; no mounts, no databases, no private
 * network targets; `log` `{ dir: ".agent-os/log" }` (pass `false` for an in-memory log);
 * `limits` from the policy, then DEFAULT_LIMITS; `pool` two warm workers (see PoolOptions);
 * `isolation` "dedicated" ("shared" with `pool: false`); `maxConcurrent` pool.workers ×
 * pool.agentsPerWorker (2 × 500 on two cores); `termGraceMs` 5000.
 * Mount directories must exist; a bad mount, database, address or pool option is a UsageError at once.
 */
export interface KernelOptions extends CapabilityOptions {
  /** A built-in policy name, a path to a YAML policy, a policy object, or a loaded Policy. */
  policy?: string | Policy | Record<string, unknown>;
  log?: { dir: string } | false;
  /** Limits that override the policy's (for every run of this kernel). */
  limits?: Partial<Limits>;
  /** The worker threads; `false`: none at all, agents run in the kernel's own thread (isolation "shared" only). */
  pool?: PoolOptions | false;
  /**
   * Where a run takes place unless its spawn says otherwise: "dedicated", a worker thread of its
   * own; "shared", an engine instance among many on a shared thread (being added in issue 17).
   * Components always run dedicated.
   */
  isolation?: Isolation;
  /** How many agents run at once, kernel-wide; further spawns wait in a FIFO queue (state "queued"). */
  maxConcurrent?: number;
  /** Milliseconds between SIGTERM and the SIGKILL that follows it. */
  termGraceMs?: number;
  /**
   * Decides rules with effect "verify". Default: a cross-model verifier built from
   * `verification` over the policy's `verification:` block (with no models, "verify" denies).
   */
  verifier?: Verifier;
  /**
   * Cross-model verification settings; they override the policy's `verification:` per key, and a
   * rule's `verify:` overrides both. Defaults: no models, threshold 1, timeout 10 s, no cache.
   * API keys come from the environment only (`apiKeyEnv`). Bad values are a UsageError at once.
   */
  verification?: VerificationOptions;
  /**
   * Lets a person answer rules with effect "ask" (API, dashboard, `agent-os approve|deny`):
   * `true` or `{ policyFile?, timeout? }` (see ApprovalsOptions). Default: off, and every "ask"
   * is denied at once ("no approver").
   */
  approvals?: ApprovalsOptions | boolean;
  /** Rate limits counted with other kernels too (a cluster's key-value store); see SharedRates. */
  sharedRates?: SharedRates;
  /** The kernel's wall clock, in milliseconds (what agents read as the time). */
  now?: () => number;
  /**
   * Where components are cached once built and prepared (transpiled, instrumented), and QuickJS
   * agents' bundles, by content hash, authenticated with a key kept outside the cache (see
   * CacheOptions). Default `{ dir: ".agent-os/cache" }`; `false` prepares and bundles them in
   * memory on every load. A cache inside
   * a mount, a mount inside the cache, or the key file inside a mount is a UsageError.
   */
  cache?: CacheOptions | false;
}

/**
 * Options of `kernel.replay`: a run id, a checkpoint (a sequence number, a checkpoint label, or
 * an ISO time, which alone also finds the run), or both. Defaults: the kernel's own log; the
 * agent's code as the log stored it when the run was spawned (`agent` must have the recorded
 * content hash).
 */
export interface ReplayOptions {
  runId?: string;
  checkpoint?: number | string;
  agent?: Agent;
  log?: KernelLog;
}

export interface SpawnOptions {
  /** Limits for this run only; they can only tighten the kernel's. */
  limits?: Partial<Limits>;
  /** This run's isolation (default: the kernel's); "shared" is refused for a component. */
  isolation?: Isolation;
  /**
   * The policy this run's calls are decided under, and whose limits it gets (default: the
   * kernel's). Its name and hash are in the run's spawn event. Secrets, models, verification
   * and approvals stay the kernel's. A cluster node starts each run under the version current then.
   */
  policy?: Policy;
  /** The run's id (default: a new random UUID); a cluster gives its own. @throws UsageError when a live run has it. */
  runId?: string;
}
