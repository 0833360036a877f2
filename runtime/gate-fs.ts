/**
 * The gate's part of an fs call: the policy decides every path the call touches, not only the
 * one the agent wrote.
 *
 * The fs capability resolves the written path inside its mount (every link followed, each link
 * named) and, for a recursive remove, a recursive mkdir or a listing, plans the entries below
 * it. The gate decides the resolved path as the call (counted against rate limits), and the
 * written path, every link on the way and every planned entry with the call's action, without
 * counting them; the strictest effect wins (kill > stop > deny > ask > verify > audit > allow), so one
 * denied entry refuses the whole call, and the decision names it. A listing is not refused for
 * an entry: entries the policy would not let the agent stat (`fs.stat` allowed or audited) are
 * left out of it. The call is logged once, its resource the resolved path, with `path` (as
 * written, when it differs), `links`, `entries` and `decidedOn` (the path whose decision won,
 * when it is not the resource); counterfactual replay decides those the same way.
 */
import type { FollowLast, FsHost, FsTarget } from "./capabilities/types.js";
import { GuestError } from "./errors.js";
import type { OpName } from "./kernel/ops.js";
import { EFFECTS, type Decision, type Request } from "./types.js";

/** Decides one request; `count` false: not counted against rate limits. */
export type DecideOne = (request: Request, count: boolean) => Decision;

/** One fs call on its way through the gate. */
export interface FsCall {
  /** The call's own request: the resolved path. */
  request: Request;
  target: FsTarget;
  /** What must be planned before the call is fully decided, or null. */
  plan: "remove" | "mkdir" | "list" | null;
  /** The path whose decision won, when it is not the resolved path. */
  decidedOn?: string;
  /** Entries a listing left out (the policy would not let the agent stat them). */
  hidden?: number;
}

/** A path of the call other than the resolved one, and why it is decided. */
export interface FurtherPath {
  resource: string;
  role: "written" | "link" | "entry";
}

const ROLE: Record<FurtherPath["role"], string> = { written: "the path as written", link: "a link on the way", entry: "an entry the call touches" };

/**
 * Resolves the written path of an fs call (synchronous: the capability lstats each segment).
 *
 * @example fsCallOf(fs, "fs.read", ["/workspace/alias/key.txt"], request).request.resource // "/workspace/secret/key.txt"
 */
export function fsCallOf(fs: FsHost, op: OpName, args: readonly unknown[], written: Request): FsCall {
  const last: FollowLast = op === "fs.remove" || ((op === "fs.write" || op === "fs.write-text") && args[2] !== true) ? "keep" : "follow";
  const target = fs.resolve(written.resource, last);
  const plan = op === "fs.list" ? "list" : op === "fs.remove" && args[1] === true ? "remove" : op === "fs.mkdir" && args[1] === true ? "mkdir" : null;
  return { request: { ...written, resource: target.resolved }, target, plan };
}

/**
 * Plans the call's entries (asynchronous I/O) and, for a listing, leaves out the entries the
 * policy would not let the agent stat. A plan that fails becomes the call's answer once decided.
 */
export async function planFsCall(fs: FsHost, call: FsCall, decideOne: DecideOne): Promise<void> {
  if (call.plan === null || call.target.problem) return;
  try {
    call.target = await fs.plan(call.target, call.plan);
  } catch (error) {
    call.target = { ...call.target, problem: error instanceof GuestError ? error : new GuestError({ tag: "io", val: `cannot read ${call.target.resolved}` }) };
    return;
  }
  if (call.plan !== "list") return;
  const all = call.target.entries ?? [];
  const shown = all.filter((e) => lets(decideOne({ ...call.request, action: "fs.stat", resource: e.path }, false)));
  call.target = { ...call.target, entries: shown };
  call.hidden = all.length - shown.length;
}

/** Whether a decision lets a call through as it is. */
function lets(decision: Decision): boolean {
  return decision.effect === "allow" || decision.effect === "audit";
}

/** The paths of a call the policy decides beside its resolved path. */
export function furtherPaths(call: FsCall): FurtherPath[] {
  const { target } = call;
  const out: FurtherPath[] = [];
  if (target.written !== target.resolved) out.push({ resource: target.written, role: "written" });
  for (const link of target.links) out.push({ resource: link, role: "link" });
  if (call.plan !== "list") for (const e of target.entries ?? []) out.push({ resource: e.path, role: "entry" });
  return out;
}

/**
 * Decides the call: its further paths first (not counted, so that the call itself can take the
 * last place a rate limit has), then the resolved path (counted unless `count` is false). The
 * strictest effect wins; on a tie, the resolved path's decision.
 */
export function decideFsCall(call: FsCall, decideOne: DecideOne, count = true): { decision: Decision; request: Request } {
  const { decision, request, decidedOn } = decideAll(call.request, furtherPaths(call), decideOne, count);
  if (decidedOn !== undefined) call.decidedOn = decidedOn;
  else delete call.decidedOn;
  return { decision, request };
}

/**
 * The strictest decision over a request and its further paths (same action), with the reason
 * naming the path that decided when it is not the request's own.
 *
 * @example decideAll(request, [{ resource: "/ws/project/keep", role: "entry" }], decideOne).decision.reason
 *          // "on /ws/project/keep (an entry the call touches): protected"
 */
export function decideAll(main: Request, further: readonly FurtherPath[], decideOne: DecideOne, count = true): { decision: Decision; request: Request; decidedOn?: string } {
  let best: { decision: Decision; request: Request; path: FurtherPath } | undefined;
  for (const path of further) {
    const request = { ...main, resource: path.resource };
    const decision = decideOne(request, false);
    if (best === undefined || rank(decision) > rank(best.decision)) best = { decision, request, path };
  }
  // A call another of its paths refuses is not counted against rate limits (denied calls never are).
  const own = decideOne(main, count && (best === undefined || rank(best.decision) <= EFFECTS.indexOf("audit")));
  if (best === undefined || rank(best.decision) <= rank(own)) return { decision: own, request: main };
  const { decision, request, path } = best;
  return { decision: { ...decision, reason: `on ${path.resource} (${ROLE[path.role]}): ${decision.reason}` }, request, decidedOn: path.resource };
}

function rank(decision: Decision): number {
  const at = EFFECTS.indexOf(decision.effect);
  return at < 0 ? EFFECTS.length : at; // an effect nobody knows is stricter than all: fail closed
}

/** What the call event records beside the resolved path (see the module comment). */
export function fsRecord(call: FsCall): Record<string, unknown> {
  const { target } = call;
  return {
    ...(target.written !== target.resolved ? { path: target.written } : {}),
    ...(target.links.length > 0 ? { links: [...target.links] } : {}),
    ...(call.plan !== null && call.plan !== "list" && target.entries && target.entries.length > 0 ? { entries: target.entries.map((e) => e.path) } : {}),
    ...(call.decidedOn !== undefined ? { decidedOn: call.decidedOn } : {}),
    ...(call.hidden ? { hidden: call.hidden } : {}),
  };
}

/**
 * The further paths a recorded call event holds (see fsRecord), for deciding it again.
 *
 * @example recordedFurther({ resource: "/ws/secret/k", path: "/ws/alias/k", links: ["/ws/alias"] })
 *          // [{ resource: "/ws/alias/k", role: "written" }, { resource: "/ws/alias", role: "link" }]
 */
export function recordedFurther(data: Record<string, unknown>): FurtherPath[] {
  const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s): s is string => typeof s === "string") : []);
  return [
    ...(typeof data.path === "string" ? [{ resource: data.path, role: "written" as const }] : []),
    ...strings(data.links).map((resource) => ({ resource, role: "link" as const })),
    ...strings(data.entries).map((resource) => ({ resource, role: "entry" as const })),
  ];
}
