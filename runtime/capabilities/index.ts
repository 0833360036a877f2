/**
 * The capabilities of one run and the table that dispatches an allowed call to them.
 * Nothing here decides: by the time `dispatch` runs, the gate has allowed the call.
 */
import { guestErrors } from "../errors.js";
import type { OpName } from "../kernel/ops.js";
import type { ChatRequest } from "../models/types.js";
import type { ClockHost } from "./clock.js";
import type { LlmHost } from "./llm.js";
import { parseToolArgs, type ToolsHost } from "./tools.js";
import type { FsHost, FsTarget, HttpHost, HttpRequest, HopAuthorizer, SqlHost, SqlValue } from "./types.js";
import { monotonicNs } from "../portable/clock.js";

/** The most random bytes one call may ask for (as Web Crypto's getRandomValues). */
export const MAX_RANDOM_BYTES = 65536;

/** What the run's capabilities are; an absent one answers as if nothing were there. */
export interface RunCapabilities {
  fs?: FsHost;
  http?: HttpHost;
  sql?: SqlHost;
  /** Models by alias (absent: the host configured none). */
  llm?: LlmHost;
  /** The kernel's tools (absent: the host offers none). */
  tools?: ToolsHost;
  /** The run's waits (clock.sleep-until); absent: no call can wait (replay answers from the log). */
  clock?: ClockHost;
  /** SIGTERM reached the run: calls in flight that can be aborted are (a tool's AbortSignal). */
  interrupt?(): void;
  /** Records a checkpoint; resolves to its sequence number. */
  checkpoint(label: string): Promise<number>;
  /** Start of the run, for the monotonic clock. */
  startedNs: bigint;
  /** Wall clock in milliseconds (the kernel's clock). */
  now(): number;
  /** Asked before every HTTP hop (the gate decides it). */
  authorizeHop: HopAuthorizer;
  /** Frees what the run's capabilities hold (database handles); resolves once they are freed. */
  close(): void | Promise<void>;
}

function fs(caps: RunCapabilities): FsHost {
  // Without mounts there is no filesystem at all: every path is outside every mount.
  if (!caps.fs) throw guestErrors.notFound("no filesystem is mounted for this agent");
  return caps.fs;
}

/**
 * Carries out one allowed call and returns its WIT result value, or a promise of it for a call
 * that does real I/O (or throws a GuestError / returns a rejected promise). An fs call acts on
 * `target`, the resolved (and planned) path the gate decided, when it is given.
 */
export function dispatch(op: OpName, args: unknown[], caps: RunCapabilities, target?: FsTarget): unknown {
  const path = target ?? (args[0] as string);
  switch (op) {
    case "fs.read":
      return fs(caps).read(path);
    case "fs.read-text":
      return fs(caps).readText(path);
    case "fs.write":
      return fs(caps).write(path, args[1] as Uint8Array, args[2] as boolean);
    case "fs.write-text":
      return fs(caps).writeText(path, args[1] as string, args[2] as boolean);
    case "fs.list":
      return fs(caps).list(path);
    case "fs.remove":
      return fs(caps).remove(path, args[1] as boolean);
    case "fs.stat":
      return fs(caps).stat(path);
    case "fs.mkdir":
      return fs(caps).mkdir(path, args[1] as boolean);
    case "http.fetch":
      if (!caps.http) throw guestErrors.denied(null, "this kernel has no network");
      return caps.http.fetch(args[0] as HttpRequest, caps.authorizeHop);
    case "sql.query":
      if (!caps.sql) throw guestErrors.notFound(`no database named ${JSON.stringify(args[0])}`);
      return caps.sql.query(args[0] as string, args[1] as string, args[2] as SqlValue[]);
    case "log.write":
      return undefined; // the call event in the episodic log is the record
    case "clock.now": {
      const ms = caps.now();
      return { seconds: BigInt(Math.floor(ms / 1000)), nanoseconds: Math.floor(ms % 1000) * 1_000_000 };
    }
    case "clock.monotonic-now":
      return monotonicNs() - caps.startedNs;
    case "clock.sleep-until":
      if (!caps.clock) throw guestErrors.invalid("clock.sleep-until: this kernel cannot wait");
      return caps.clock.sleepUntil(args[0] as bigint);
    case "random.bytes": {
      const len = args[0] as number;
      if (len > MAX_RANDOM_BYTES) throw guestErrors.invalid(`random.bytes: at most ${MAX_RANDOM_BYTES} bytes a call`);
      return crypto.getRandomValues(new Uint8Array(len));
    }
    case "process.checkpoint":
      return caps.checkpoint(args[0] as string).then(BigInt);
    case "process.pending-signal":
      return undefined;
    case "llm.chat":
      if (!caps.llm) throw guestErrors.invalid("llm.chat: this kernel has no models configured");
      return caps.llm.chat(args[0] as ChatRequest);
    case "tools.list":
      // (the gate lists tools itself: only it knows which the policy could allow)
      throw guestErrors.invalid("tools.list is answered by the gate");
    case "tools.call":
      if (!caps.tools) throw guestErrors.invalid("tools.call: this kernel offers no tools");
      return caps.tools.call(args[0] as string, parseToolArgs(args[1]));
  }
}
