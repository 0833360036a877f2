/**
 * Counterfactual replay under a policy given by name, file, YAML text or object (loaded with
 * Node's fs): see `redecide.ts`, the portable core that decides the calls again.
 */
import { resolvePolicy } from "../hosts/node/policy/resolve.js";
import type { Policy } from "../types.js";
import type { KernelLog } from "./log.js";
import { redecideRunWith, type CounterfactualOptions, type CounterfactualReport } from "./redecide.js";

export { redecideRunWith, type CounterfactualOptions, type CounterfactualReport, type DecisionChange } from "./redecide.js";

/**
 * Decides every recorded call of a run again under `policy` (a built-in name, a file, YAML text,
 * an object, or a loaded Policy, whose rate-limit clock is then its own) and lists the calls
 * whose effect would change.
 *
 * @example
 * const report = await redecideRun(log, runId, "strict");
 * for (const c of report.changes) console.log(c.seq, c.action, c.resource, c.before.effect, "->", c.after.effect);
 * @throws ReplayError for an unknown run; PolicyError for a policy that does not load.
 */
export function redecideRun(
  log: KernelLog,
  runId: string,
  policy: string | Record<string, unknown> | Policy,
  options: CounterfactualOptions = {},
): Promise<CounterfactualReport> {
  return redecideRunWith(log, runId, (now) => resolvePolicy(policy, { now }), options);
}
