/**
 * The gate's part of the tools capability: a tools.call is checked against the tool's schema
 * (and gets the tool's hash, for `pin`) before the policy decides it; a tools.list answers only
 * the tools some rule of the policy could allow.
 */
import { guestErrors } from "./errors.js";
import { parseToolArgs } from "./capabilities/tools.js";
import { decide, type GateRun } from "./gate.js";
import type { Policy } from "./types.js";

/** A tool as tools.list answers the guest (the schema as JSON text, as the WIT carries it). */
export interface ListedToolWit {
  name: string;
  description: string;
  inputSchema: string;
}

/**
 * Checks a tools.call before any decision: the tool exists in the run's listing and the
 * arguments fit its schema. Resolves to the tool's hash.
 * @throws GuestError `invalid` (synchronously or as the rejection).
 */
export function prepareToolCall(run: GateRun, args: readonly unknown[]): Promise<string> {
  const tools = run.capabilities.tools;
  if (!tools) throw guestErrors.invalid("tools.call: this kernel offers no tools");
  const name = args[0];
  if (typeof name !== "string" || name === "") throw guestErrors.invalid("tools.call: a tool name is a non-empty string");
  return tools.prepare(name, parseToolArgs(args[1]));
}

/**
 * The tools of the run's listing that some rule could allow, and every listed tool's hash (the
 * log records them with the listing's result).
 */
export async function listAllowedTools(run: GateRun): Promise<{ listed: ListedToolWit[]; hashes: Record<string, string> }> {
  const tools = run.capabilities.tools;
  if (!tools) return { listed: [], hashes: {} };
  const listing = await tools.listing();
  const listed: ListedToolWit[] = [];
  const hashes: Record<string, string> = {};
  for (const tool of listing.tools.values()) {
    hashes[tool.name] = tool.hash;
    if (!couldAllowTool(run, tool.name)) continue;
    listed.push({ name: tool.name, description: tool.info.description, inputSchema: JSON.stringify(tool.info.inputSchema) });
  }
  return { listed, hashes };
}

/**
 * Whether a call of this tool could be allowed: the policy's own answer when it has one
 * (LoadedPolicy: an allow, audit, verify or ask rule on tool.call whose resource matches, arguments
 * aside, or an allowing default), else whether it lets through a call without arguments.
 * Anything that fails hides the tool.
 */
function couldAllowTool(run: GateRun, name: string): boolean {
  const policy: Policy = run.policy;
  try {
    if (typeof policy.couldAllow === "function") return policy.couldAllow("tool.call", name) === true;
    const effect = decide(policy, { action: "tool.call", resource: name, agent: run.agent, pid: run.pid }, { count: false }).effect;
    return effect === "allow" || effect === "audit" || effect === "verify" || effect === "ask";
  } catch {
    return false;
  }
}
