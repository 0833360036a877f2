/** Building canonical requests by hand: for `agent-os policy explain|test` and for tests. */
import { canonicalSql } from "../capabilities/sql-text.js";
import { canonicalPath, canonicalUrl } from "../canonical.js";
import { UsageError } from "../errors.js";
import type { Request, SqlFacts } from "../types.js";
import { ACTION_NAMES, canonicalAction, resourceKind } from "./actions.js";
import { didYouMean } from "./suggest.js";

export interface RequestExtra {
  method?: string;
  sql?: SqlFacts;
  /** Default: "cli". */
  agent?: string;
  /** Default: 0. */
  pid?: number;
}

/**
 * A request as the gate would build it: the action's alias mapped to its canonical name and
 * the resource canonicalized (fs.* paths with canonicalPath, http.fetch URLs with canonicalUrl,
 * sql.query's database name unchanged).
 *
 * @example canonicalRequest("file_write", "/prod/./a//b") // { action: "fs.write", resource: "/prod/a/b", agent: "cli", pid: 0 }
 * @throws UsageError for an unknown action; GuestError (invalid) for a path or URL that cannot be canonical.
 */
export function canonicalRequest(action: string, resource: string, extra: RequestExtra = {}): Request {
  const canonical = canonicalAction(action);
  if (!canonical) throw new UsageError(`unknown action "${action}"${didYouMean(action, ACTION_NAMES)}; expected one of: ${ACTION_NAMES.join(", ")}`);
  const kind = resourceKind(canonical);
  const res = kind === "path" ? canonicalPath(resource) : kind === "url" ? canonicalUrl(resource) : resource;
  const request: Request = { action: canonical, resource: res, agent: extra.agent ?? "cli", pid: extra.pid ?? 0 };
  if (extra.method !== undefined) request.method = extra.method.toUpperCase();
  if (extra.sql !== undefined) request.sql = extra.sql;
  return request;
}

const FIRST_WORD_OPERATIONS: Readonly<Record<string, string>> = {
  SELECT: "select", WITH: "select", INSERT: "insert", REPLACE: "insert", UPDATE: "update", DELETE: "delete", CREATE: "create",
  DROP: "drop", ALTER: "alter", PRAGMA: "pragma", ATTACH: "attach", DETACH: "attach", BEGIN: "transaction",
  COMMIT: "transaction", ROLLBACK: "transaction", END: "transaction", SAVEPOINT: "transaction", RELEASE: "transaction",
};

/**
 * SQL facts from a statement's text, for operators' tools only: the kernel gets them from
 * SQLite's own compiler. The canonical form is the kernel's own (`canonicalSql`, one
 * canonicalizer for both). Operations not given are guessed from the first word of each
 * statement (so `WITH ... DELETE` is guessed wrong: give `operations` when it matters).
 *
 * @example sqlFactsFromText("select 1; -- x\n drop table t").operations // ["select", "drop"]
 */
export function sqlFactsFromText(statement: string, known: { operations?: string[]; reads?: string[]; writes?: string[] } = {}): SqlFacts {
  const canonical = canonicalSql(statement);
  const operations =
    known.operations ??
    canonical
      .split(";")
      .map((s) => s.trim().split(" ")[0])
      .filter((w) => w !== "")
      .map((w) => FIRST_WORD_OPERATIONS[w.toUpperCase()] ?? "other");
  return { statement, canonical, operations: [...new Set(operations)], reads: known.reads ?? [], writes: known.writes ?? [] };
}
