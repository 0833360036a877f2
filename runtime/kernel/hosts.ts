/**
 * Where runs take place. A RunHost is handed a RunSpec and gives back a HostedRun: the run's
 * channel (host calls, the control word, fuel) and its outcome. AgentProcess talks to nothing
 * else, so the same process logic drives a run in a dedicated worker (`DedicatedHost`) and one
 * of many agents on a shared thread (the shared host, see shared-host-factory.ts).
 *
 * A host never decides anything and never logs: the process does both. What a host owns (its
 * workers, its engine instances) it frees in `close()`, and `stats()` counts it for leak checks.
 */
import type { Finished, Reply, RunSpec } from "../engines/engine.js";

/** What AgentProcess needs of a run's channel (KernelChannel has all of it). */
export interface RunChannel {
  /** Sets the control word the guest reads between fuel slices (Control.run / stop / kill). */
  setControl(word: number): void;
  /** Fuel the guest has used so far, as it last published it. */
  readonly fuel: number;
  /** Stops serving; the serve loop returns. */
  close(): void;
  /** Resolves once the guest reports it is paused, or after `timeoutMs`; returns whether it paused. */
  waitPaused(timeoutMs: number): Promise<boolean>;
  /** Asks the agent to finish (SIGTERM): its next host call reports it. */
  requestTerm(): void;
  /** Serves the guest's host calls, one at a time, until `close()`. */
  serve(handler: (request: unknown) => Reply | Promise<Reply>): Promise<void>;
}

/** One run, once its host has started it. */
export interface HostedRun {
  /** The guest's outcome; a host resolves it (with a trap) even when the guest's thread dies. */
  readonly finished: Promise<Finished>;
  readonly channel: RunChannel;
  /** Ends the run at once whatever the guest is doing (dedicated: the worker is terminated). */
  kill(): void;
}

/** How a run starts, beyond its spec. */
export interface StartOptions {
  /**
   * Read once, just before the guest is given the run: true means it starts paused (a SIGSTOP
   * that came while it waited). A host that cannot honour it at that point still gets the stop
   * from the process through `channel.setControl` right after `start` resolves.
   */
  stopped?: () => boolean;
}

export interface RunHost {
  /**
   * Starts `spec` once a place is free for it; `signal` aborted = give up (the run was killed
   * while waiting), and then it resolves to undefined and holds nothing for that run.
   * @throws (rejects) when the run cannot be started at all; the process fails with the message.
   */
  start(spec: RunSpec, signal: AbortSignal, options?: StartOptions): Promise<HostedRun | undefined>;
  /** Live workers / engine instances this host holds (for leak checks). */
  stats(): { workers: number; instances: number };
  /** Ends every run it holds and frees its workers. */
  close(): Promise<void>;
}

/** The isolation of one run: its own worker ("dedicated") or an engine instance on a shared thread. */
export type Isolation = "shared" | "dedicated";

export const ISOLATIONS: readonly Isolation[] = ["shared", "dedicated"];
