/**
 * Every failure the kernel reports, each with a stable `code`.
 *
 * Two kinds: a `GuestError` is an expected failure the agent sees as a WIT `error` value
 * (denied, not found, invalid input...). The other classes are host-side errors thrown to the
 * embedding program; they never reach a guest.
 */

/** The WIT `error` variant (wit/kernel.wit, interface types). */
export type WitError =
  | { tag: "denied"; val: { rule?: string; reason: string } }
  | { tag: "not-found"; val: string }
  | { tag: "invalid"; val: string }
  | { tag: "io"; val: string }
  | { tag: "limit"; val: string }
  | { tag: "interrupted"; val: string };

/** An expected failure of a host call, delivered to the guest as a WIT error value. */
export class GuestError extends Error {
  readonly code = "GUEST_ERROR";
  constructor(readonly error: WitError) {
    super(`${error.tag}: ${typeof error.val === "string" ? error.val : error.val.reason}`);
    this.name = "GuestError";
  }
}

/** Shorthands for capabilities. Messages must name guest paths only, never host paths. */
export const guestErrors = {
  notFound: (what: string) => new GuestError({ tag: "not-found", val: what }),
  invalid: (what: string) => new GuestError({ tag: "invalid", val: what }),
  io: (what: string) => new GuestError({ tag: "io", val: what }),
  limit: (what: string) => new GuestError({ tag: "limit", val: what }),
  denied: (rule: string | null, reason: string) =>
    new GuestError({ tag: "denied", val: rule === null ? { reason } : { rule, reason } }),
  interrupted: (what: string) => new GuestError({ tag: "interrupted", val: what }),
};

/** Base class of host-side errors. */
export class AgentOsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A bad argument or option given to the library or the command (exit code 2 on the command line). */
export class UsageError extends AgentOsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("USAGE", message, options);
  }
}

/** An agent module or component that cannot be loaded. */
export class AgentLoadError extends AgentOsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("AGENT_LOAD", message, options);
  }
}

/** The kernel was closed, or a process was used after it ended. */
export class KernelClosedError extends AgentOsError {
  constructor(message = "the kernel is closed") {
    super("KERNEL_CLOSED", message);
  }
}

/** The episodic log could not be opened, written or read. */
export class LogError extends AgentOsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("LOG", message, options);
  }
}

/**
 * A run that cannot be replayed: not in the log, its agent's code changed or not found, or a
 * checkpoint that is not in it.
 */
export class ReplayError extends AgentOsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("REPLAY", message, options);
  }
}

/**
 * The cluster could not be reached or did not answer (a NATS server down, a node that did not
 * reply in time). Credentials the server refuses are a UsageError: a configuration mistake.
 */
export class ClusterError extends AgentOsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("CLUSTER", message, options);
  }
}

/** One located problem in a policy file. */
export interface PolicyProblem {
  /** The file, when the policy came from one. */
  file?: string;
  /** 1-based line and column in that file (or in the YAML text). */
  line?: number;
  column?: number;
  /** The field's path, e.g. "rules[2].effect". */
  field?: string;
  message: string;
}

/** A policy that does not load. Lists every problem found, not just the first. */
export class PolicyError extends AgentOsError {
  constructor(readonly problems: PolicyProblem[]) {
    super("POLICY", PolicyError.format(problems));
  }

  static format(problems: PolicyProblem[]): string {
    return problems
      .map((p) => {
        const where = [p.file, p.line, p.column].filter((x) => x !== undefined).join(":");
        const field = p.field ? `${p.field}: ` : "";
        return `${where ? where + ": " : ""}${field}${p.message}`;
      })
      .join("\n");
  }
}
