/**
 * Host-side shapes of the WIT interfaces (wit/kernel.wit), as capabilities implement them.
 *
 * A capability carries out an allowed call and nothing else: it never reads the policy. An
 * expected failure is thrown as a `GuestError` (a WIT `error` value the agent can handle); any
 * other exception is turned into `io` by the gate, with no host detail in the message.
 */
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
}

/** Counters shared by every capability of one run, so that quotas hold across calls. */
export interface RunQuota {
  limits: Limits;
  fsBytesWritten: number;
  fsFilesCreated: number;
}

export interface FsHost {
  /** A small file is read at once; a large one returns a promise. */
  read(path: string): Uint8Array | Promise<Uint8Array>;
  readText(path: string): string | Promise<string>;
  write(path: string, data: Uint8Array, append: boolean): Promise<void>;
  writeText(path: string, text: string, append: boolean): Promise<void>;
  list(path: string): Promise<DirEntry[]>;
  remove(path: string, recursive: boolean): Promise<void>;
  stat(path: string): StatInfo;
  mkdir(path: string, recursive: boolean): Promise<void>;
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
}

/**
 * Asked by the http capability before every hop (the first request and each redirect): the
 * gate decides the hop under the policy and logs it. Resolves to true when the hop may go.
 */
export type HopAuthorizer = (hop: { method: string; url: string }) => Promise<boolean>;

export interface HttpHost {
  fetch(request: HttpRequest, authorizeHop: HopAuthorizer): Promise<HttpResponse>;
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
  close(): void;
}
