/**
 * The approvals mailbox: how `agent-os approve|deny` (another process) answers a kernel that
 * holds the log. A directory beside the log directory (`<log>.approvals/`, never inside the
 * LevelDB directory), private to its user (0700):
 *
 *   pending/<id>.json    written by the kernel while a call is held (removed once it is answered)
 *   answers/<id>.json    written by the CLI (a temporary file renamed: the kernel never reads half)
 *   outcomes/<id>.json   written by the kernel once it applied (or refused) an answer; read and removed by the CLI
 *
 * Whoever can write the directory can answer, as whoever can write the log can rewrite it: the
 * kernel refuses a mailbox inside an agent's mount. A kernel empties it when it opens its log.
 */
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { UsageError } from "../errors.js";
import type { ApprovalAnswer, ApprovalRequest, MailboxAnswer } from "./types.js";

/** A request id: 12 hex digits (also what keeps a file name inside the mailbox). */
export const APPROVAL_ID = /^[0-9a-f]{12}$/;

/** A pending request as the mailbox holds it: with what scope "always" would need. */
export interface PendingApproval extends ApprovalRequest {
  /** Present when scope "always" is possible: the policy file and the ask rules the rule approves. */
  always?: { file: string; approves: string[] };
}

/** What the kernel did with an answer. */
export type MailboxOutcome = { id: string; ok: true; answer: ApprovalAnswer } | { id: string; ok: false; error: string };

/**
 * The mailbox directory of a log directory: its sibling `<name>.approvals`.
 *
 * @example approvalsDir(".agent-os/log") // "/abs/.agent-os/log.approvals"
 */
export function approvalsDir(logDir: string): string {
  const log = resolve(logDir);
  return join(dirname(log), `${basename(log)}.approvals`);
}

/**
 * The requests a kernel on this log holds for a person, oldest first (none when no kernel
 * with approvals runs on it).
 *
 * @example for (const r of readPendingApprovals(".agent-os/log")) console.log(r.id, r.action, r.resource);
 */
export function readPendingApprovals(logDir: string): PendingApproval[] {
  const dir = join(approvalsDir(logDir), "pending");
  const out: PendingApproval[] = [];
  for (const name of listJson(dir)) {
    const request = readJson(join(dir, name)) as PendingApproval | undefined;
    if (request && typeof request.id === "string" && `${request.id}.json` === name) out.push(request);
  }
  return out.sort((a, b) => a.requestedAt.localeCompare(b.requestedAt) || a.id.localeCompare(b.id));
}

/**
 * Answers a pending request of the kernel on this log, and waits (up to `waitMs`, default 10 s)
 * for the kernel to apply the answer: its outcome, or `ok: false` when it refused the answer or
 * took none in time (the answer is then withdrawn).
 *
 * @example const outcome = await answerApproval(".agent-os/log", "3f2a9c0b1d2e", { answer: "approve", scope: "run", by: "cli:ann" });
 * @throws UsageError for an id that is not a pending request's.
 */
export async function answerApproval(logDir: string, id: string, answer: Omit<MailboxAnswer, "id">, options: { waitMs?: number } = {}): Promise<MailboxOutcome> {
  if (!APPROVAL_ID.test(id)) throw new UsageError(`${JSON.stringify(id)} is not an approval request id (12 hex digits, as agent-os approvals lists them)`);
  const dir = approvalsDir(logDir);
  if (!readPendingApprovals(logDir).some((r) => r.id === id)) {
    throw new UsageError(`there is no pending approval request ${id} on the log ${logDir} (answered, timed out, or its kernel is not running)`);
  }
  const outcome = join(dir, "outcomes", `${id}.json`);
  rmSync(outcome, { force: true });
  const file = join(dir, "answers", `${id}.json`);
  writeAtomically(file, { ...answer, id });
  const deadline = Date.now() + (options.waitMs ?? 10_000);
  for (;;) {
    const done = readJson(outcome) as MailboxOutcome | undefined;
    if (done) {
      rmSync(outcome, { force: true });
      return done;
    }
    if (Date.now() > deadline && withdraw(file)) {
      return { id, ok: false, error: `the kernel on the log ${logDir} did not take the answer within ${options.waitMs ?? 10_000} ms (is it still running?); the answer was withdrawn` };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Takes back an answer nobody read; false when the kernel has already taken it. */
function withdraw(file: string): boolean {
  try {
    rmSync(file);
    return true;
  } catch {
    return false;
  }
}

/** The kernel's side of the mailbox. */
export class Mailbox {
  private constructor(readonly dir: string) {}

  /** Opens (creates, 0700) the mailbox of a log directory and empties it: requests of an earlier kernel cannot be answered. */
  static open(logDir: string): Mailbox {
    const dir = approvalsDir(logDir);
    for (const sub of ["pending", "answers", "outcomes"]) {
      rmSync(join(dir, sub), { recursive: true, force: true });
      mkdirSync(join(dir, sub), { recursive: true, mode: 0o700 });
    }
    return new Mailbox(dir);
  }

  writePending(request: PendingApproval): void {
    writeAtomically(join(this.dir, "pending", `${request.id}.json`), request);
  }

  removePending(id: string): void {
    rmSync(join(this.dir, "pending", `${id}.json`), { force: true });
  }

  /** The answers written since the last call (each file removed as it is read); unreadable ones as errors. */
  takeAnswers(): (MailboxAnswer | { id: string; error: string })[] {
    const dir = join(this.dir, "answers");
    const out: (MailboxAnswer | { id: string; error: string })[] = [];
    for (const name of listJson(dir)) {
      const id = name.slice(0, -".json".length);
      if (!APPROVAL_ID.test(id)) continue;
      const answer = readJson(join(dir, name));
      rmSync(join(dir, name), { force: true });
      out.push(isAnswer(answer, id) ? answer : { id, error: "the answer file is not an answer ({ answer: approve|deny, scope?, by, reason? })" });
    }
    return out;
  }

  writeOutcome(outcome: MailboxOutcome): void {
    writeAtomically(join(this.dir, "outcomes", `${outcome.id}.json`), outcome);
  }

  /** Removes every pending request (the kernel is closing). */
  close(): void {
    rmSync(join(this.dir, "pending"), { recursive: true, force: true });
  }
}

function isAnswer(value: unknown, id: string): value is MailboxAnswer {
  const a = value as Partial<MailboxAnswer> | undefined;
  return typeof a === "object" && a !== null && a.id === id && (a.answer === "approve" || a.answer === "deny") && typeof a.by === "string";
}

/** A temporary file (a dot file, which readers skip) renamed into place. */
function writeAtomically(file: string, value: unknown): void {
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  writeFileSync(temp, JSON.stringify(value, null, 2) + "\n", { mode: 0o600 });
  renameSync(temp, file);
}

function listJson(dir: string): string[] {
  try {
    return readdirSync(dir).filter((name) => name.endsWith(".json") && !name.startsWith("."));
  } catch {
    return [];
  }
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as unknown;
  } catch {
    return undefined;
  }
}
