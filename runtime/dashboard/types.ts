/**
 * The dashboard's contracts: what a source of data gives it (a live kernel in this process, or a
 * log directory another process may hold), the rows its views show, and its options.
 */
import type { AlwaysProposal, ApprovalRequest, ApprovalScope } from "../approvals/index.js";
import type { KernelLog } from "../episodic/log.js";
import type { ReplayResult } from "../episodic/replay.js";
import type { ProcessState, Signal } from "../types.js";

/**
 * Options of `kernel.dashboard()` and `agent-os dashboard`. Defaults: `port` 7878 (0: any free
 * port), `host` "127.0.0.1", `allowRemote` false (a host that is not loopback is refused
 * without it), `token` 32 random bytes in hex.
 */
export interface DashboardOptions {
  port?: number;
  host?: string;
  /** Allows a host that is not loopback (0.0.0.0, a LAN address): the token is then all that guards it. */
  allowRemote?: boolean;
  /** The access token (at least 32 characters); default a random one. */
  token?: string;
}

/** A running dashboard. */
export interface DashboardHandle {
  /** The address to open, with the token: `http://127.0.0.1:7878/?token=...`. */
  readonly url: string;
  readonly token: string;
  /** Ends every live stream and closes the server. Idempotent. */
  close(): Promise<void>;
}

/** One row of the process table. */
export interface ProcessRow {
  pid: number;
  runId: string;
  agent: string;
  /** A live kernel's state; "live" in log mode (a run with no exit event yet). */
  state: ProcessState | "live";
  /** Fuel used so far (null when only the kernel's process knows it). */
  fuel: number | null;
  tokens: { input: number; output: number };
  hostCalls: number;
  denials: number;
}

/** What one run did, as read from its events. */
export interface RunSummary {
  runId: string;
  pid: number;
  agent: string;
  /** Time of the spawn event (ms since the epoch). */
  started: number;
  ended: number | null;
  status: "running" | "ok" | "error" | "killed";
  reason: string | null;
  policy: string;
  task: string;
  calls: number;
  denials: number;
  tokens: { input: number; output: number };
  /** Fuel at the exit event; null while running. */
  fuel: number | null;
  events: number;
  firstSeq: number;
  lastSeq: number;
}

/** The policy the editor starts from, and where Save writes. */
export interface PolicySource {
  /** The policy's YAML text ("" when unknown). */
  text: string;
  /** The file Save writes to; undefined when the policy is built in or was given as an object. */
  file?: string;
  name: string;
  /** Why Save is not possible, when it is not. */
  readOnly?: string;
}

/** A proposal of scope "always" as the page is shown it: the diff, and the hash it confirms with. */
export interface ShownProposal extends AlwaysProposal {
  /** sha256 of the proposed text: the page sends it back with its confirmation. */
  hash: string;
}

/**
 * Answering held `ask` calls: a live kernel's own API, or (log mode) the approvals mailbox of
 * the kernel that holds the log. Every answer is given `by: "dashboard"`.
 */
export interface ApprovalsPort {
  /** The calls held for a person, oldest first. */
  list(): ApprovalRequest[];
  /** Approves; for "always", `proposal` is the hash of the text the person was shown. */
  approve(id: string, scope: ApprovalScope, proposal?: string): Promise<unknown>;
  deny(id: string, reason?: string): Promise<unknown>;
  /** What approving "always" would write. @throws UsageError when "always" is not possible. */
  proposeAlways(id: string): ShownProposal;
}

/**
 * Where the dashboard's data comes from. `kernel`: a KernelSpace in this process (signals work);
 * `log`: a log directory, read the way `agent-os log` reads it (signals need the kernel's
 * process, and are refused).
 */
export interface DashboardSource {
  readonly mode: "kernel" | "log";
  /** Where the log lives, for the page. */
  readonly location: string;
  /** How often the live view is refreshed, in ms. */
  readonly pollMs: number;
  /** The live processes as the kernel sees them; undefined in log mode (the run index answers). */
  processes(): Omit<ProcessRow, "denials">[] | undefined;
  /** Sends a signal. @throws UsageError in log mode, or for an unknown pid. */
  signal(pid: number, signal: Signal): void;
  /** Runs `fn` with the log open for reading (in log mode: briefly, then closed). */
  withLog<T>(fn: (log: KernelLog) => Promise<T>): Promise<T>;
  /** Replays a recorded run. */
  replay(runId: string): Promise<ReplayResult>;
  policy(): PolicySource;
  /** Held calls and their answers; absent when the kernel answers no `ask` (approvals off). */
  readonly approvals?: ApprovalsPort;
  /** Releases what the source holds (not the kernel). */
  close(): Promise<void>;
}
