/**
 * The kernel's placement options, checked once: the worker pool, the default isolation, and
 * how many agents run at once. Every bad value is a UsageError naming the field.
 */
import { availableParallelism } from "node:os";
import type { EngineName } from "../../../engines/engine.js";
import { UsageError } from "../../../errors.js";
import { checkPositiveInteger } from "../../../kernel/admission.js";
import { ISOLATIONS, type Isolation } from "../../../kernel/hosts.js";
import { DEFAULT_AGENTS_PER_WORKER, type PoolOptions } from "./pool.js";

/** The placement options of KernelOptions, as given. */
export interface PlacementOptions {
  pool?: PoolOptions | false;
  isolation?: Isolation;
  maxConcurrent?: number;
}

/** The same, checked, with every default filled in. */
export interface Placement {
  pool: PoolOptions | false;
  /** The isolation of a run whose spawn names none. */
  isolation: Isolation;
  maxConcurrent: number;
}

const POOL_FIELDS = ["warm", "stackSizeMb", "maxHeapBytes", "workers", "agentsPerWorker"] as const;

/**
 * Checks the placement options and fills in the defaults: `pool` two warm workers; `isolation`
 * "dedicated" ("shared" with `pool: false`); `maxConcurrent` workers × agentsPerWorker (one
 * thread's worth with `pool: false`).
 * @throws UsageError naming the field.
 */
export function resolvePlacement(options: PlacementOptions): Placement {
  const pool = checkPool(options.pool);
  if (options.isolation !== undefined) checkIsolation(options.isolation, "isolation");
  const isolation = options.isolation ?? (pool === false ? "shared" : "dedicated");
  const workers = pool === false ? 1 : pool.workers ?? availableParallelism();
  const perWorker = (pool === false ? undefined : pool.agentsPerWorker) ?? DEFAULT_AGENTS_PER_WORKER;
  const maxConcurrent = options.maxConcurrent ?? workers * perWorker;
  checkPositiveInteger(maxConcurrent, "maxConcurrent");
  return { pool, isolation, maxConcurrent };
}

/**
 * The isolation one run gets: the spawn's own, else the kernel's. A component always runs
 * dedicated (the shared engine runs QuickJS only), so a kernel-wide "shared" runs it dedicated
 * and a spawn that asks for "shared" is refused.
 * @throws UsageError for an unknown isolation, or "shared" asked for a component.
 */
export function isolationFor(agent: { name: string; engine: EngineName }, requested: unknown, kernelDefault: Isolation): Isolation {
  if (requested !== undefined) checkIsolation(requested, "spawn isolation");
  if (agent.engine === "component") {
    if (requested === "shared") {
      throw new UsageError(
        `spawn isolation "shared" is not possible for the component ${JSON.stringify(agent.name)}: ` +
          `components always run in a dedicated worker (the shared engine runs QuickJS agents only)`,
      );
    }
    return "dedicated";
  }
  return (requested as Isolation | undefined) ?? kernelDefault;
}

function checkIsolation(value: unknown, field: string): asserts value is Isolation {
  if (!ISOLATIONS.includes(value as Isolation)) {
    throw new UsageError(`${field} must be "shared" or "dedicated" (got ${JSON.stringify(value) ?? String(value)})`);
  }
}

function checkPool(pool: unknown): PoolOptions | false {
  if (pool === undefined) return {};
  if (pool === false) return false;
  if (typeof pool !== "object" || pool === null || Array.isArray(pool)) {
    throw new UsageError(`pool must be an object or false (got ${JSON.stringify(pool) ?? String(pool)})`);
  }
  for (const [key, value] of Object.entries(pool)) {
    if (!(POOL_FIELDS as readonly string[]).includes(key)) {
      throw new UsageError(`pool: unknown option ${JSON.stringify(key)} (known: ${POOL_FIELDS.join(", ")})`);
    }
    if (value === undefined) continue;
    if (key === "warm") {
      if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
        throw new UsageError(`pool.warm must be a non-negative integer (got ${JSON.stringify(value) ?? String(value)})`);
      }
    } else checkPositiveInteger(value, `pool.${key}`);
  }
  return pool as PoolOptions;
}
