/**
 * The process table and its signal buttons. Signals reach a live kernel in this process only:
 * in log mode there is nothing to send them to, and the page says so.
 */
import type { Signal } from "../types.js";
import { HttpError, type Route } from "./http.js";
import type { LiveState } from "./live.js";
import type { DashboardSource } from "./types.js";

/** The signals the page sends (SIGXCPU is the kernel's own). */
export const PAGE_SIGNALS: readonly Signal[] = ["SIGSTOP", "SIGCONT", "SIGTERM", "SIGKILL"];

/**
 * The routes of the process view.
 *
 * @example routes.push(...processRoutes(source, live))
 */
export function processRoutes(source: DashboardSource, live: LiveState): Route[] {
  return [
    { kind: "read", pattern: "/api/processes", handler: () => live.processes() },
    {
      kind: "change",
      pattern: "/api/signal",
      handler: async ({ body }) => {
        const { pid, signal } = (body ?? {}) as { pid?: unknown; signal?: unknown };
        if (!Number.isSafeInteger(pid)) throw new HttpError(400, 'the body needs "pid" as a whole number');
        if (typeof signal !== "string" || !PAGE_SIGNALS.includes(signal as Signal)) {
          throw new HttpError(400, `the body needs "signal": one of ${PAGE_SIGNALS.join(", ")}`);
        }
        if (source.mode !== "kernel") {
          throw new HttpError(409, "signals need the kernel's process: this dashboard reads a log directory (start it with kernel.dashboard() in the host program)");
        }
        source.signal(pid as number, signal as Signal);
        await live.refresh();
        return live.processes();
      },
    },
  ];
}
