/**
 * `KernelOptions.approvals` checked once, when the kernel is made: the timeout, the policy file
 * for scope "always", and where the mailbox would be. Nothing an agent can write may answer or
 * widen an approval, so neither the mailbox nor the policy file may lie inside a mount.
 */
import { resolve } from "node:path";
import { UsageError } from "../errors.js";
import { MAX_ASK_TIMEOUT_MS } from "../policy/ask.js";
import { parseDuration } from "../policy/units.js";
import { approvalsDir } from "./mailbox.js";
import type { ApprovalsOptions } from "./types.js";
import { realPath, within } from "../hosts/node/host-paths.js";

/** How long a person has to answer when neither the rule nor the kernel says: 5 minutes. */
export const DEFAULT_ASK_TIMEOUT_MS = 5 * 60 * 1000;

/** The approvals options with their defaults filled in. */
export interface ResolvedApprovals {
  timeoutMs: number;
  policyFile?: string;
}

/**
 * Checks `KernelOptions.approvals` (`true` is `{}`), or undefined when approvals are off.
 *
 * @example resolveApprovals({ timeout: "2m", policyFile: "./approved.yaml" }, { mounts: [], logDir: ".agent-os/log" })
 * @throws UsageError naming the field, or a mailbox or policy file inside a mount.
 */
export function resolveApprovals(
  option: ApprovalsOptions | boolean | undefined,
  where: { mounts: readonly { guest: string; host: string }[]; logDir?: string },
): ResolvedApprovals | undefined {
  if (option === undefined || option === false) return undefined;
  if (option !== true && (typeof option !== "object" || option === null)) throw new UsageError("approvals: expected true or { policyFile?, timeout? }");
  const given: ApprovalsOptions = option === true ? {} : option;
  for (const key of Object.keys(given)) {
    if (key !== "policyFile" && key !== "timeout") throw new UsageError(`approvals: unknown option ${JSON.stringify(key)} (expected policyFile, timeout)`);
  }
  let timeoutMs = DEFAULT_ASK_TIMEOUT_MS;
  if (given.timeout !== undefined) {
    const parsed = parseDuration(given.timeout, 1);
    if (!parsed.ok || parsed.value > MAX_ASK_TIMEOUT_MS) throw new UsageError(`approvals.timeout: expected ${parsed.ok ? "at most 24h" : parsed.expected}, got ${JSON.stringify(given.timeout)}`);
    timeoutMs = parsed.value;
  }
  const resolved: ResolvedApprovals = { timeoutMs };
  if (given.policyFile !== undefined) {
    if (typeof given.policyFile !== "string" || given.policyFile === "") throw new UsageError("approvals.policyFile: expected a path to a YAML policy file");
    if (!/\.ya?ml$/i.test(given.policyFile)) throw new UsageError(`approvals.policyFile: ${given.policyFile} must be a YAML file (.yaml or .yml)`);
    resolved.policyFile = resolve(given.policyFile);
    outsideMounts(resolved.policyFile, "the policy file for approvals", where.mounts, "an agent could write approvals into it");
  }
  if (where.logDir !== undefined) outsideMounts(approvalsDir(where.logDir), "the approvals mailbox", where.mounts, "an agent could answer its own requests");
  return resolved;
}

function outsideMounts(path: string, what: string, mounts: readonly { guest: string; host: string }[], why: string): void {
  const real = realPath(path);
  for (const mount of mounts) {
    const host = realPath(mount.host);
    if (within(real, host) || within(host, real)) {
      throw new UsageError(`${what} ${real} and mount ${mount.guest} (${host}) overlap: ${why}; put it elsewhere`);
    }
  }
}
