/**
 * The dashboard's live state: every `pollMs` it reads the events appended since the last look
 * into the run index, rebuilds the process table, samples what the live processes use, and
 * publishes what changed on the event stream. One look at a time; nothing after close().
 */
import { approvalsTable, type ApprovalsTable } from "./api-approvals.js";
import type { RunIndex } from "./run-index.js";
import type { SseHub } from "./sse.js";
import type { DashboardSource, ProcessRow, RunSummary } from "./types.js";

/** The most events one look reads: a long log is caught up with over a few looks. */
const EVENTS_PER_LOOK = 20_000;
/** The most new events one `log` message names. */
const EVENTS_PER_MESSAGE = 200;
/** How many ended runs the process table shows under the live ones. */
const RECENT = 8;

/** What the process view shows: the live processes and the runs that ended last. */
export interface ProcessTable {
  mode: DashboardSource["mode"];
  live: ProcessRow[];
  recent: RunSummary[];
}

/** One new event, as the `log` message names it. */
export interface EventNote {
  seq: number;
  runId: string;
  type: string;
}

export class LiveState {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private closed = false;
  private table: ProcessTable;
  private tableJson = "";
  private approvals: ApprovalsTable;
  private approvalsJson = "";
  /** The last failure to read the log, shown on the page. */
  problem: string | undefined;

  constructor(
    private readonly source: DashboardSource,
    private readonly index: RunIndex,
    private readonly hub: SseHub,
  ) {
    this.table = { mode: source.mode, live: [], recent: [] };
    this.approvals = { enabled: source.approvals !== undefined, pending: [], answered: [] };
  }

  /** Takes the first look (the page is complete once this resolves), then keeps looking. */
  async start(): Promise<void> {
    await this.look();
    this.schedule();
  }

  /** The process table as of the last look. */
  processes(): ProcessTable {
    return this.table;
  }

  /** The held calls and the latest answers, as of the last look. */
  approvalsTable(): ApprovalsTable {
    return this.approvals;
  }

  /** Looks again now (after a signal, so the page sees its effect without waiting). */
  refresh(): Promise<void> {
    return this.look();
  }

  /**
   * Resolves once a look that started after this call is done: everything appended to the log
   * before the call is in the index (a look already under way may have started before it).
   */
  async caughtUp(): Promise<void> {
    await this.running;
    await this.look();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => void this.look().finally(() => this.schedule()), this.source.pollMs);
  }

  private look(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.running ??= this.lookOnce().finally(() => (this.running = undefined));
    return this.running;
  }

  private async lookOnce(): Promise<void> {
    try {
      const fresh = await this.readNewEvents();
      if (this.closed) return;
      this.problem = undefined;
      if (fresh.events.length > 0) {
        this.hub.publish("log", { head: this.index.lastSeq, events: fresh.events.slice(-EVENTS_PER_MESSAGE) });
        this.hub.publish("runs", [...fresh.runs.values()]);
      }
    } catch (error) {
      if (this.closed) return;
      const message = (error as Error)?.message ?? String(error);
      if (message !== this.problem) this.hub.publish("problem", { message });
      this.problem = message;
    }
    this.updateTable();
    this.updateApprovals();
  }

  private readNewEvents(): Promise<{ events: EventNote[]; runs: Map<string, RunSummary> }> {
    const events: EventNote[] = [];
    const runs = new Map<string, RunSummary>();
    return this.source.withLog(async (log) => {
      // A live kernel's log knows its head without reading anything: most looks stop here.
      if (this.source.mode === "kernel" && log.head().seq <= this.index.lastSeq) return { events, runs };
      const query = log.query({ fromSeq: this.index.lastSeq + 1, limit: EVENTS_PER_LOOK });
      for await (const e of query) {
        const run = this.index.add(e);
        if (run) runs.set(run.runId, run);
        events.push({ seq: e.seq, runId: e.runId, type: e.type });
      }
      return { events, runs };
    });
  }

  private updateTable(): void {
    const fromKernel = this.source.processes();
    let live: ProcessRow[];
    if (fromKernel) {
      this.index.sample(fromKernel, Date.now());
      live = fromKernel.map((p) => ({ ...p, denials: this.index.get(p.runId)?.denials ?? 0 }));
    } else live = this.index.live().map(rowOfRun);
    const recent = this.index.list({ limit: RECENT + live.length }).filter((r) => r.status !== "running").slice(0, RECENT);
    const table: ProcessTable = { mode: this.source.mode, live, recent };
    const json = JSON.stringify(table);
    if (json === this.tableJson) return;
    this.table = table;
    this.tableJson = json;
    this.hub.publish("processes", table);
  }

  private updateApprovals(): void {
    let table: ApprovalsTable;
    try {
      table = approvalsTable(this.source, this.index);
    } catch {
      return; // (a mailbox being rewritten: the next look reads it)
    }
    const json = JSON.stringify(table);
    if (json === this.approvalsJson) return;
    this.approvals = table;
    this.approvalsJson = json;
    this.hub.publish("approvals", table);
  }
}

/** A run with no exit event, as a row (log mode: only the kernel's process knows its fuel and state). */
function rowOfRun(run: RunSummary): ProcessRow {
  return { pid: run.pid, runId: run.runId, agent: run.agent, state: "live", fuel: null, tokens: run.tokens, hostCalls: run.calls, denials: run.denials };
}
