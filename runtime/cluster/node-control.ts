/**
 * What a node answers by request/reply: `ps` (its runs, with state and usage) and `signal`
 * (a signal to one of its runs, answered with the state it is in then).
 */
import type { Subscription } from "nats";
import type { ProcessState, Signal, Usage } from "../types.js";
import { json } from "./connect.js";
import type { ClusterNode } from "./node.js";

/** One process as `ps` lists it. */
export interface ClusterProcess {
  runId: string;
  node: string | null;
  pid: number | null;
  agent: string;
  state: ProcessState | "queued";
  usage: Usage | null;
  /** The policy version's hash (null while queued). */
  policy: string | null;
  submittedAt: number;
  startedAt: number | null;
}

/** What a signal answers. */
export interface SignalAnswer {
  runId: string;
  node: string | null;
  state: ProcessState | "queued" | "removed";
}

const SIGNALS: readonly Signal[] = ["SIGSTOP", "SIGCONT", "SIGTERM", "SIGKILL"];

/** Subscribes the node's ps and signal subjects. */
export function serveControl(node: ClusterNode): Subscription[] {
  const { names } = node.conn;
  const ps = node.conn.nc.subscribe(names.nodeSubject(node.name, "ps"), {
    callback: (_error, msg) => msg.respond(json.encode({ node: node.name, capacity: node.capacity, processes: processes(node) })),
  });
  const signal = node.conn.nc.subscribe(names.nodeSubject(node.name, "signal"), {
    callback: (_error, msg) => {
      void answerSignal(node, msg.data).then(
        (answer) => msg.respond(json.encode(answer)),
        (error: unknown) => msg.respond(json.encode({ error: error instanceof Error ? error.message : String(error) })),
      );
    },
  });
  return [ps, signal];
}

function processes(node: ClusterNode): ClusterProcess[] {
  const out: ClusterProcess[] = [];
  for (const run of node.active.values()) {
    if (!run.proc) continue;
    const info = run.proc.info();
    out.push({
      runId: run.record.runId,
      node: node.name,
      pid: info.pid,
      agent: info.agent,
      state: info.state,
      usage: info.usage,
      policy: run.record.policy?.hash ?? null,
      submittedAt: run.record.submittedAt,
      startedAt: run.record.startedAt ?? null,
    });
  }
  return out;
}

async function answerSignal(node: ClusterNode, data: Uint8Array): Promise<SignalAnswer | { error: string }> {
  const { runId, signal } = json.decode<{ runId?: unknown; signal?: unknown }>(data);
  if (typeof runId !== "string" || !SIGNALS.includes(signal as Signal)) return { error: "expected { runId, signal: SIGSTOP|SIGCONT|SIGTERM|SIGKILL }" };
  const run = node.active.get(runId);
  if (!run?.proc) return { error: `no live run ${runId} on node ${node.name}` };
  const proc = run.proc;
  proc.signal(signal as Signal, "operator (cluster)");
  if (signal === "SIGKILL") await proc.wait();
  else if (signal === "SIGSTOP") await proc.stopped(2000);
  return { runId, node: node.name, state: proc.state };
}
