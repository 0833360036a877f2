/**
 * Chain status and replay. Verify is the log's own (`log.verify()`, what `agent-os verify`
 * runs): before it, the page is shown how far a walk over the events has got (the sequence and
 * the links to the previous hash, checked as it goes), then the full check's verdict, which
 * names the first bad event. Replay is the kernel's (`kernel.replay`, what `agent-os replay`
 * runs). One of each at a time.
 */
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { encodeValue } from "../episodic/encoding.js";
import type { KernelLog } from "../episodic/log.js";
import type { VerifyReport } from "../types.js";
import { HttpError, stringField, type Route } from "./http.js";
import type { SseHub } from "./sse.js";
import type { DashboardSource } from "./types.js";

/** How often the walk reports its progress, in events. */
const PROGRESS_EVERY = 2000;

/** Where a verification is. */
export interface VerifyState {
  phase: "idle" | "walking" | "hashing" | "done" | "failed";
  /** Events walked so far, of `total` (the head when it began). */
  checked: number;
  total: number;
  /** The walk's own early finding (a gap or a broken link), before the full check. */
  noticed?: string;
  report?: VerifyReport;
  /** The run of the first bad event, when it can be read. */
  badRunId?: string;
  error?: string;
  startedAt?: number;
  finishedAt?: number;
}

/**
 * The routes of the chain and replay views.
 *
 * @example routes.push(...chainRoutes(source, hub))
 */
export function chainRoutes(source: DashboardSource, hub: SseHub): { routes: Route[]; state: () => VerifyState } {
  let state: VerifyState = { phase: "idle", checked: 0, total: 0 };
  let running: Promise<void> | undefined;
  const update = (next: Partial<VerifyState>) => {
    state = { ...state, ...next };
    hub.publish("verify", state);
  };
  let replaying = false;
  const routes: Route[] = [
    { kind: "read", pattern: "/api/verify", handler: () => state },
    {
      kind: "change",
      pattern: "/api/verify",
      handler: () => {
        if (!running) {
          update({ phase: "walking", checked: 0, total: 0, noticed: undefined, report: undefined, badRunId: undefined, error: undefined, startedAt: Date.now(), finishedAt: undefined });
          running = source
            .withLog((log) => verifyWithProgress(log, update))
            .catch((error: unknown) => update({ phase: "failed", error: (error as Error)?.message ?? String(error), finishedAt: Date.now() }))
            .finally(() => (running = undefined));
        }
        return state;
      },
    },
    {
      kind: "change",
      pattern: "/api/replay",
      handler: async ({ body }) => {
        const runId = stringField(body, "runId");
        if (replaying) throw new HttpError(409, "a replay is already running; wait for it");
        replaying = true;
        try {
          return { result: encodeValue(await source.replay(runId)) };
        } finally {
          replaying = false;
        }
      },
    },
  ];
  return { routes, state: () => state };
}

async function verifyWithProgress(log: KernelLog, update: (next: Partial<VerifyState>) => void): Promise<void> {
  const total = log.head().seq;
  update({ total });
  let checked = 0;
  let prev: string | undefined;
  let noticed: string | undefined;
  try {
    for await (const e of log.query()) {
      if (noticed === undefined && e.seq !== checked + 1) noticed = `event ${checked + 1} is missing`;
      else if (noticed === undefined && prev !== undefined && e.prev !== prev) noticed = `event ${e.seq} does not link to event ${e.seq - 1}`;
      prev = e.hash;
      checked++;
      if (checked % PROGRESS_EVERY === 0) {
        update({ checked, noticed });
        await yieldToLoop();
      }
    }
  } catch (error) {
    // A record too damaged to read: the full check names it.
    noticed ??= (error as Error)?.message ?? String(error);
  }
  update({ phase: "hashing", checked, noticed });
  const report = await log.verify();
  const badRunId = report.ok ? undefined : await log.get(report.firstBad).then((e) => e?.runId, () => undefined);
  update({ phase: "done", report, badRunId, checked: report.ok ? report.count : checked, finishedAt: Date.now() });
}
