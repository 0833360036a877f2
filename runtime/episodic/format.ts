/**
 * The readable timeline of `agent-os log`: one line per event, votes indented under their call,
 * a person's answers to held calls (`approval-request`, `approval`) on lines of their own.
 * Reads the fields it shows defensively: the kernel decides what each event's data holds.
 */
import type { LoggedEvent } from "../types.js";

const str = (v: unknown): string => (typeof v === "string" ? v : v === undefined || v === null ? "" : JSON.stringify(v));
const rec = (v: unknown): Record<string, unknown> => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/**
 * One event as a timeline line: time, seq, pid, agent, then what happened.
 *
 * @example formatEvent(e) // "2025-01-01T10:00:00.000Z  #12  pid 3  writer  call  fs.write /prod/x  deny  no-prod"
 */
export function formatEvent(e: LoggedEvent): string {
  const d = e.data;
  if (e.type === "vote") {
    const conf = typeof d.confidence === "number" ? ` (${d.confidence})` : "";
    const ms = typeof d.latencyMs === "number" ? ` ${d.latencyMs}ms` : "";
    return `    └ vote #${e.seq}  ${str(d.model)}: ${str(d.verdict)}${conf}${ms}  ${str(d.reason)}`.trimEnd();
  }
  const head = `${new Date(e.time).toISOString()}  #${e.seq}  pid ${e.pid}  ${e.agent}  ${e.type}`;
  return `${head}  ${describe(e.type, d)}`.trimEnd();
}

/** A model call's result: "  model gpt  tokens 40 in / 12 out  tool-calls  312ms" (alias and latency recorded by the gate). */
function modelLine(d: Record<string, unknown>): string {
  const model = rec(d.model);
  if (typeof model.alias !== "string") return "";
  const ok = rec(d.ok);
  const usage = rec(ok.usage);
  const parts = [`model ${model.alias}`];
  if (typeof usage.inputTokens === "number") parts.push(`tokens ${usage.inputTokens} in / ${str(usage.outputTokens)} out`);
  if (typeof ok.finishReason === "string") parts.push(ok.finishReason);
  if (typeof model.latencyMs === "number") parts.push(`${model.latencyMs}ms`);
  return `  ${parts.join("  ")}`;
}

/** How a held call was answered, on its call's line: "approved by cli:ann (once)", "approved for this run (3f2a…)". */
function approvalNote(a: Record<string, unknown>): string {
  if (typeof a.id !== "string") return "";
  if (a.reused === true) return `${str(a.outcome)} for this ${a.scope === "always" ? "kernel" : "run"} (${a.id})`;
  return `${str(a.outcome)}${a.by ? ` by ${str(a.by)}` : ""}${a.scope ? ` (${str(a.scope)})` : ""} ${a.id}`;
}

function describe(type: string, d: Record<string, unknown>): string {
  switch (type) {
    case "call": {
      const decision = rec(d.decision);
      const rule = decision.rule === null ? "(default)" : str(decision.rule);
      // An fs call whose path led elsewhere (through links): where it led, then what the agent wrote.
      const written = typeof d.path === "string" ? `(as ${d.path})` : "";
      // An effect-free call is recorded with its result, in one event.
      const inline = d.result === undefined ? "" : "err" in rec(d.result) ? `error ${str(rec(rec(d.result).err).tag)}` : "ok";
      return [str(d.action), str(d.resource), written, str(decision.effect), rule, approvalNote(rec(decision.approval)), inline].filter(Boolean).join("  ");
    }
    case "approval-request":
      return [str(d.id), str(d.action), str(d.resource), d.method ? str(d.method) : "", `rule ${d.rule === null ? "(default)" : str(d.rule)}`, `expires ${str(d.expiresAt)}`].filter(Boolean).join("  ");
    case "approval": {
      const scope = d.outcome === "approved" && d.scope ? ` (${str(d.scope)})` : "";
      return [str(d.id), `${str(d.outcome)}${scope}`, d.by ? `by ${str(d.by)}` : "", str(d.reason)].filter(Boolean).join("  ");
    }
    case "result": {
      const callSeq = d.call ?? d.callSeq;
      const of = typeof callSeq === "number" ? `of #${callSeq}` : "";
      // (the secrets the kernel injected into an http.fetch, by name; a model call's alias and tokens)
      const carried = Array.isArray(d.secrets) ? `  secrets ${d.secrets.map(str).join(",")}` : "";
      const model = modelLine(d);
      if ("err" in d) return `${of}  error ${str(rec(d.err).tag) || str(d.err)}${carried}${model}`;
      return `${of}  ok${carried}${model}`;
    }
    case "spawn":
      return [str(d.task) && `task ${JSON.stringify(str(d.task))}`, str(d.policy) && `policy ${str(rec(d.policy).name) || str(d.policy)}`]
        .filter(Boolean)
        .join("  ");
    case "signal":
      return [str(d.signal ?? d.which), d.by !== undefined ? `by ${str(d.by)}` : ""].filter(Boolean).join("  ");
    case "checkpoint":
      return str(d.label);
    case "exit": {
      const tokens = rec(rec(d.usage).tokens);
      const used = typeof tokens.input === "number" && typeof tokens.output === "number" && tokens.input + tokens.output > 0 ? `tokens ${tokens.input} in / ${tokens.output} out` : "";
      return [str(d.status), str(d.reason), used].filter(Boolean).join("  ");
    }
    default:
      return "";
  }
}
