/**
 * The kernel's side of the SQL processes (sql-child.ts): one process per run that uses SQL,
 * taken from a small pool of warm ones, never shared and never reused, so that ending one (a
 * runaway statement, a lock held too long, a row too large) touches no other run.
 *
 * Every request has a time limit: past it the process is killed (SIGKILL: nothing else stops a
 * statement in native code) and the call fails with `limit`. So has its memory: while a request
 * is pending, the kernel reads the process's resident memory every few milliseconds (Linux's
 * /proc; elsewhere the process's watchdog thread does it) and kills it past the cap. A process that dies or answers
 * junk fails the call too, and every later call of its run: its connections, and any
 * transaction the agent had open, are gone.
 */
import { fork, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { setPriority } from "node:os";
import { GuestError, guestErrors } from "../../../errors.js";
import { MEMORY_MARK, readReply, type FromChild, type OpenMessage, type RequestMessage } from "./sql-protocol.js";

/**
 * Options of the SQL process pool. Defaults: `warm` 1, `memoryBytes` 256 MiB.
 */
export interface SqlPoolOptions {
  /** Idle processes kept ready (each about 50 MB). */
  warm?: number;
  /** The resident memory at which a process running a statement is ended (its statement fails with `limit`). */
  memoryBytes?: number;
  /** The process's entry point; only tests change it. Default: sql-child.js beside this file. */
  entry?: URL;
}

export const DEFAULT_SQL_MEMORY = 256 * 1024 * 1024;
const CHILD_URL = new URL("./sql-child.js", import.meta.url);
/** The SQL processes' scheduling priority, relative to the kernel's (higher is lower priority). */
const SQL_NICENESS = 10;
/** How long a process asked to close may take before it is killed. */
const CLOSE_GRACE_MS = 1000;
/**
 * How often the memory of a process running a statement is read. The first reading comes
 * after one interval: most statements are over by then, and cost nothing.
 */
const MEMORY_POLL_MS = 4;

/** The resident memory of a process in bytes, from /proc; undefined where there is none. */
function residentBytes(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "latin1"));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Whether this host lets the kernel read a process's memory (Linux's /proc). */
const KERNEL_READS_MEMORY = residentBytes(process.pid) !== undefined;

type WithoutId<T> = T extends unknown ? Omit<T, "id"> : never;
/** A request before the process numbers it. */
export type SqlRequest = WithoutId<RequestMessage>;

interface Pending {
  resolve(value: unknown): void;
  reject(error: GuestError): void;
  timer: NodeJS.Timeout | undefined;
}

/** One run's SQL process. */
export class SqlProcess {
  private readonly child: ChildProcess;
  private readonly started: Promise<void>;
  /** Settles when the process has exited (its connections closed, or killed). */
  private readonly exited: Promise<void>;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private marks = "";
  /** Why it is gone (what every call fails with from then on); undefined while it lives. */
  private ended: GuestError | undefined;
  private readonly memoryBytes: number;
  private memoryTimer: NodeJS.Timeout | undefined;
  /** Callers waiting for the process to start: while there are any, it keeps the kernel alive. */
  private waiting = 0;

  constructor(options: SqlPoolOptions = {}) {
    this.memoryBytes = options.memoryBytes ?? DEFAULT_SQL_MEMORY;
    const heapMb = Math.max(32, Math.ceil(this.memoryBytes / (1024 * 1024)));
    this.child = fork(options.entry ?? CHILD_URL, [KERNEL_READS_MEMORY ? "" : String(this.memoryBytes)], {
      execArgv: [`--max-old-space-size=${heapMb}`],
      serialization: "advanced",
      stdio: ["ignore", "ignore", "ignore", "ipc", "pipe"],
    });
    // A statement is bulk work: under contention for the CPU, the kernel's thread (every run's
    // calls, deadlines and signals) and the agents come first.
    if (this.child.pid !== undefined) {
      try {
        setPriority(this.child.pid, SQL_NICENESS);
      } catch {
        // not allowed here: the process keeps the kernel's priority
      }
    }
    const marks = this.child.stdio[4] as (NodeJS.ReadableStream & { unref?: () => void }) | null;
    marks?.on("data", (chunk: Buffer) => (this.marks += chunk.toString("utf8")));
    marks?.unref?.(); // the watchdog's pipe keeps nothing of the kernel's alive either
    this.started = new Promise((resolve) => {
      this.child.on("message", (message: FromChild) => (message?.type === "ready" ? resolve() : this.onReply(message)));
      this.child.on("close", () => resolve());
    });
    this.child.on("error", () => this.fail(guestErrors.io("the SQL process could not be started")));
    this.exited = new Promise((resolve) => this.child.once("close", () => resolve()));
    this.child.on("close", () => this.onClose());
    this.idle();
  }

  /** Whether the process is alive (not ended, killed or failed). */
  get alive(): boolean {
    return this.ended === undefined;
  }

  /** Whether a request is being answered. */
  get busy(): boolean {
    return this.pending.size > 0;
  }

  /** The process id, for the operator's tools (and tests). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Resolves once the process has started (or ended); a request's time limit counts from then. */
  async ready(): Promise<void> {
    this.waiting++;
    this.child.ref();
    this.channelRef(true);
    try {
      await this.started;
    } finally {
      this.waiting--;
      if (this.pending.size === 0 && this.waiting === 0) this.idle();
    }
  }

  /** Sets the process up for its run (sent once, before any request). */
  open(message: OpenMessage): void {
    this.post(message);
  }

  /**
   * Sends one request; resolves with the answer's value, rejects with its WIT error. Past
   * `timeoutMs` (counted from when the process is ready), the process is killed and the call
   * fails with `limit`.
   */
  async request(request: SqlRequest, timeoutMs: number): Promise<unknown> {
    await this.ready();
    if (this.ended) throw this.ended;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(guestErrors.limit(`the statement ran longer than the SQL time limit of ${timeoutMs} ms and was interrupted; SQL is stopped for the rest of this run`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.child.ref();
      this.channelRef(true);
      this.post({ ...request, id } as RequestMessage);
      this.watchMemory();
    });
  }

  /** While a request is pending, reads the process's memory every few milliseconds; past the cap, kills it. */
  private watchMemory(): void {
    if (!KERNEL_READS_MEMORY || this.memoryTimer !== undefined) return;
    const poll = () => {
      this.memoryTimer = undefined;
      if (!this.busy || this.ended || this.child.pid === undefined) return;
      const rss = residentBytes(this.child.pid);
      if (rss !== undefined && rss > this.memoryBytes) {
        this.fail(this.memoryError());
        return;
      }
      this.memoryTimer = setTimeout(poll, MEMORY_POLL_MS);
    };
    this.memoryTimer = setTimeout(poll, MEMORY_POLL_MS);
  }

  private memoryError(): GuestError {
    return guestErrors.limit(`the statement needed more than ${Math.round(this.memoryBytes / (1024 * 1024))} MiB of memory and was interrupted; SQL is stopped for the rest of this run`);
  }

  /** Ends the process at once: a statement it runs is interrupted. */
  kill(why: GuestError = guestErrors.io("the SQL process was ended")): void {
    this.fail(why);
  }

  /**
   * Ends the process: gracefully when idle (its connections close, so an open transaction is
   * rolled back and its journal removed), at once when busy or after CLOSE_GRACE_MS. Resolves
   * when the process has exited, so that the run's database files are settled.
   */
  close(): Promise<void> {
    if (this.ended) return this.exited;
    if (this.busy) {
      this.kill(guestErrors.interrupted("the run ended"));
      return this.exited;
    }
    this.post({ type: "close" });
    const timer = setTimeout(() => this.kill(), CLOSE_GRACE_MS);
    timer.unref();
    this.ended = guestErrors.io("the SQL capability is closed");
    return this.exited;
  }

  private post(message: unknown): void {
    if (this.ended || !this.child.connected) return;
    this.child.send(message as never, (error) => {
      if (error) this.fail(guestErrors.io("the SQL process cannot be reached"));
    });
  }

  private onReply(message: unknown): void {
    const reply = readReply(message);
    const pending = reply ? this.pending.get(reply.id) : undefined;
    if (!reply || !pending) {
      this.fail(guestErrors.io("the SQL process answered something that is not an answer"));
      return;
    }
    this.settle(reply.id);
    if ("err" in reply) pending.reject(new GuestError(reply.err));
    else pending.resolve(reply.ok);
  }

  private onClose(): void {
    const byMemory = this.marks.includes(MEMORY_MARK);
    this.fail(byMemory ? this.memoryError() : guestErrors.io("the SQL process ended unexpectedly; SQL is stopped for the rest of this run"));
  }

  /** Kills the process (if it still runs) and fails every pending call with `why`. */
  private fail(why: GuestError): void {
    this.ended ??= why;
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
    for (const id of [...this.pending.keys()]) {
      const pending = this.pending.get(id)!;
      this.settle(id);
      pending.reject(why);
    }
  }

  private settle(id: number): void {
    clearTimeout(this.pending.get(id)?.timer);
    this.pending.delete(id);
    if (this.pending.size === 0) {
      clearTimeout(this.memoryTimer);
      this.memoryTimer = undefined;
      if (this.waiting === 0) this.idle();
    }
  }

  /** An idle process keeps nothing of the kernel's alive. */
  private idle(): void {
    this.child.unref();
    this.channelRef(false);
  }

  private channelRef(on: boolean): void {
    const channel = this.child.channel as { ref?: () => void; unref?: () => void } | null | undefined;
    if (on) channel?.ref?.();
    else channel?.unref?.();
  }
}

/**
 * Warm SQL processes: starting one (Node and better-sqlite3) takes a few hundred milliseconds
 * (seconds on a loaded machine), and a run waiting for one waits on its own clock; taking a warm
 * one, nothing. A kernel without databases has no pool.
 */
export class SqlProcessPool {
  private readonly idle: SqlProcess[] = [];
  private readonly all = new Set<SqlProcess>();
  private readonly warm: number;
  private closed = false;

  /** Starts the warm processes at once. */
  constructor(private readonly options: SqlPoolOptions = {}) {
    this.warm = options.warm ?? 1;
    this.refill();
  }

  /** A process for one run: a warm one if there is one; the pool is topped up behind it. */
  acquire(): SqlProcess {
    if (this.closed) throw guestErrors.io("the kernel is closing");
    let proc = this.idle.shift();
    while (proc && !proc.alive) proc = this.idle.shift();
    proc ??= this.start();
    this.refill();
    return proc;
  }

  /** Processes alive (idle and in use). */
  get size(): number {
    for (const p of this.all) if (!p.alive) this.all.delete(p);
    return this.all.size;
  }

  /** Ends every process (a statement still running is interrupted). */
  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.all) p.kill(guestErrors.interrupted("the kernel is closing"));
    this.all.clear();
    this.idle.length = 0;
  }

  private start(): SqlProcess {
    const proc = new SqlProcess(this.options);
    this.all.add(proc);
    return proc;
  }

  private refill(): void {
    while (!this.closed && this.idle.length < this.warm) this.idle.push(this.start());
  }
}
