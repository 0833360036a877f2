/**
 * Host-side shapes of the WIT interfaces (wit/kernel.wit), as capabilities implement them.
 *
 * A capability carries out an allowed call and nothing else: it never reads the policy. An
 * expected failure is thrown as a `GuestError` (a WIT `error` value the agent can handle); any
 * other exception is turned into `io` by the gate, with no host detail in the message.
 */
import type { GuestError } from "../errors.js";
import type { Limits, SqlFacts } from "../types.js";

export type EntryKind = "file" | "directory" | "symlink" | "other";

export interface DirEntry {
  name: string;
  kind: EntryKind;
}

export interface StatInfo {
  kind: EntryKind;
  size: bigint;
  modifiedMs: bigint;
}

/** A guest path prefix mapped onto a host directory. */
export interface Mount {
  /** Canonical absolute guest path, e.g. "/workspace". */
  guest: string;
  /** Absolute host directory. */
  host: string;
  readOnly: boolean;
  /**
   * Whether files with more than one hard link may be read and appended to. Default false: a
   * file in the mount cannot tell whether its other names lie outside the mount.
   */
  allowHardLinks: boolean;
}

/** Counters shared by every capability of one run, so that quotas hold across calls. */
export interface RunQuota {
  limits: Limits;
  fsBytesWritten: number;
  fsFilesCreated: number;
}

/** One entry a recursive operation or a listing touches: its guest path and kind (links not followed). */
export interface FsEntry {
  path: string;
  kind: EntryKind;
}

/**
 * Where a guest path leads, as `FsHost.resolve` found it: the capability then acts on
 * `resolved` and nothing else, following no link, and refuses if the path no longer leads there.
 */
export interface FsTarget {
  /** The canonical guest path the agent wrote. */
  written: string;
  /**
   * The guest path the call acts on: every link followed inside the mount (the last segment's
   * only when the operation follows it), with no link left in it. Its last `missing` segments
   * do not exist yet (a file or directories to be created), kept as written.
   */
  resolved: string;
  missing: number;
  /** Every link the walk went through, as the link's own guest path, in order. */
  links: string[];
  /**
   * Why the path leads nowhere (a link out of the mount, a dangling link, too many links, a
   * file used as a directory): the error the call answers with once it is decided. `resolved`
   * is then the path as written.
   */
  problem?: GuestError;
  /** Set by `plan`: the entries below `resolved` that the operation touches, parents first. */
  entries?: FsEntry[];
}

/** Whether an operation follows a link in the last segment of its path. */
export type FollowLast = "follow" | "keep";

/**
 * The fs capability. Each operation takes a guest path (resolved on the spot) or a target that
 * `resolve` (and `plan`) gave: the gate resolves, decides every path the call touches, then
 * hands over the target, so that what was decided is what is done.
 */
export interface FsHost {
  /**
   * Walks `path` link by link inside its mount (synchronously: one lstat per segment).
   * `keep`: a link in the last segment is the entry itself (replacing writes, remove).
   */
  resolve(path: string, last: FollowLast): FsTarget;
  /**
   * What a recursive remove, a recursive mkdir or a listing would touch below the target (the
   * entries it would remove, create or show), so that each can be decided first. Resolves to
   * the target with `entries` set; a tree larger than MAX_PLAN_ENTRIES is a `limit` error.
   */
  plan(target: FsTarget, op: "remove" | "mkdir" | "list"): Promise<FsTarget>;
  /** A small file is read at once; a large one returns a promise. */
  read(path: string | FsTarget): Uint8Array | Promise<Uint8Array>;
  readText(path: string | FsTarget): string | Promise<string>;
  write(path: string | FsTarget, data: Uint8Array, append: boolean): Promise<void>;
  writeText(path: string | FsTarget, text: string, append: boolean): Promise<void>;
  /** With a planned target: exactly its entries (those the gate let through). */
  list(path: string | FsTarget): Promise<DirEntry[]>;
  /** Recursive, with a planned target: removes exactly the planned entries, or fails. */
  remove(path: string | FsTarget, recursive: boolean): Promise<void>;
  stat(path: string | FsTarget): StatInfo;
  mkdir(path: string | FsTarget, recursive: boolean): Promise<void>;
}

export interface HttpRequest {
  method: string;
  url: string;
  headers: [string, string][];
  body?: Uint8Array;
}

export interface HttpResponse {
  status: number;
  headers: [string, string][];
  body: Uint8Array;
  /**
   * Names of the secrets the kernel injected on some hop. Never sent to the guest: the gate
   * moves it into the call's result event.
   */
  secrets?: string[];
}

/**
 * Asked by the http capability before every hop (the first request and each redirect): the
 * gate decides the hop under the policy and logs it. Resolves to true when the hop may go.
 */
export type HopAuthorizer = (hop: { method: string; url: string }) => Promise<boolean>;

export interface HttpHost {
  fetch(request: HttpRequest, authorizeHop: HopAuthorizer): Promise<HttpResponse>;
  /** The run is over: its kept-alive connections are closed. */
  close?(): void;
}

export type SqlValue =
  | { tag: "null" }
  | { tag: "integer"; val: bigint }
  | { tag: "real"; val: number }
  | { tag: "text"; val: string }
  | { tag: "blob"; val: Uint8Array };

export interface QueryResult {
  columns: string[];
  rows: SqlValue[][];
  changes: bigint;
}

/** The sql capability of one run: it works in the run's SQL process, never on the kernel's thread. */
export interface SqlHost {
  /** The facts the policy decides on; rejects with GuestError `invalid` for several statements or a syntax error, `not-found` for an unknown database. */
  analyze(database: string, statement: string): Promise<SqlFacts>;
  /** Runs the statement last analyzed (the one the gate decided on). */
  query(database: string, statement: string, params: SqlValue[]): Promise<QueryResult>;
  /** Ends the run's SQL; resolves once its connections are closed (or its process killed). */
  close(): Promise<void>;
}
