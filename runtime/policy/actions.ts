/**
 * Action names in policies: the canonical names of runtime/types.ts, the seed's aliases, and
 * globs over the canonical names (`fs.*`, `process.*`, `*`).
 */
import picomatch from "picomatch";
import { ACTIONS, type Action } from "../types.js";

/** The seed's action names, accepted so that its example policy loads unchanged. */
export const ACTION_ALIASES: Readonly<Record<string, Action>> = Object.freeze({
  file_read: "fs.read",
  file_write: "fs.write",
  file_delete: "fs.remove",
  sql: "sql.query",
  http: "http.fetch",
  network: "http.fetch",
});

const ACTION_SET: ReadonlySet<string> = new Set(ACTIONS);

/**
 * The canonical action for a canonical name or an alias, or undefined.
 *
 * @example canonicalAction("file_write") === "fs.write"
 */
export function canonicalAction(name: string): Action | undefined {
  if (ACTION_SET.has(name)) return name as Action;
  return Object.hasOwn(ACTION_ALIASES, name) ? ACTION_ALIASES[name] : undefined;
}

/**
 * The canonical actions an `action:` entry stands for: an alias, a canonical name or a glob
 * over canonical names. An empty result means the entry names no action.
 *
 * @example expandAction("fs.*") // ["fs.read", "fs.write", "fs.list", "fs.remove", "fs.stat", "fs.mkdir"]
 */
export function expandAction(entry: string): Action[] {
  const exact = canonicalAction(entry);
  if (exact) return [exact];
  let isMatch: (name: string) => boolean;
  try {
    isMatch = picomatch(entry, { strictBrackets: true, noextglob: true, windows: false });
  } catch {
    return [];
  }
  return ACTIONS.filter((name) => isMatch(name));
}

/** Every name an `action:` entry may be spelt as, for suggestions. */
export const ACTION_NAMES: readonly string[] = [...ACTIONS, ...Object.keys(ACTION_ALIASES)];

/** The resource family of an action: what its canonical resource is. */
export type ResourceKind = "path" | "url" | "database" | "other";

export function resourceKind(action: Action): ResourceKind {
  if (action.startsWith("fs.")) return "path";
  if (action === "http.fetch") return "url";
  if (action === "sql.query") return "database";
  return "other";
}
