/**
 * PRAGMA statements, analyzed without compiling them on the connection that will run them.
 *
 * SQLite applies many pragmas while it *compiles* them (trusted_schema, writable_schema,
 * foreign_keys, cache_size, busy_timeout, soft_heap_limit, temp_store...): preparing
 * `PRAGMA trusted_schema = ON` to analyze it would already have switched the guard off, before
 * the policy decided anything. So a PRAGMA is read from its tokens (its grammar is one name, an
 * optional schema and one optional value) and compiled only on a scratch in-memory database, for
 * its syntax and for SQLite's own answer to "does it write" (`statement.readonly`).
 */
import type { SqlDatabase as Database } from "./sql-db.js";
import { GuestError, guestErrors } from "../errors.js";
import type { SchemaView } from "./sql-schema.js";
import { identName, isName, type Token } from "./sql-text.js";
import { sortOperations, type BytecodeFacts } from "./sql-bytecode.js";
import { ARGUMENT_PRAGMAS, pragmaEffect } from "./sql-vtabs.js";

/** One PRAGMA statement, read from its tokens. */
export interface PragmaStatement {
  /** Lower case. */
  name: string;
  schema?: string;
  /** The value or argument as written (quotes removed, a sign kept); undefined for none. */
  value?: string;
}

/**
 * Pragmas the capability refuses to set whatever the policy says, and why: each would undo a
 * guard of the kernel's. Reading them is the policy's to decide.
 */
const GUARDED: Readonly<Record<string, (value: string) => string | undefined>> = {
  max_page_count: () => "the run's SQL write quota is kept with max_page_count",
  trusted_schema: () => "the analyzer relies on trusted_schema being off",
  writable_schema: () => "the schema is not writable",
  journal_mode: (value) => (/^(off|memory)$/i.test(value) ? "a statement interrupted without a journal on disk would corrupt the database" : undefined),
};

/**
 * Reads `PRAGMA [schema.]name [= value | (value)]` from its significant tokens (PRAGMA first).
 *
 * @example parsePragma(significant(tokenize("PRAGMA main.table_info('t')"))) // { name: "table_info", schema: "main", value: "t" }
 * @throws GuestError `invalid` for anything else.
 */
export function parsePragma(sig: Token[]): PragmaStatement {
  const bad = () => guestErrors.invalid("a PRAGMA is PRAGMA [schema.]name [= value | (value)]");
  let i = 1;
  if (!isName(sig[i])) throw bad();
  let schema: string | undefined;
  let name = identName(sig[i++]);
  if (sig[i]?.text === "." && isName(sig[i + 1])) {
    schema = name;
    name = identName(sig[i + 1]);
    i += 2;
  }
  if (i === sig.length) return { name: name.toLowerCase(), ...(schema !== undefined ? { schema } : {}) };
  const open = sig[i].text;
  if (open !== "=" && open !== "(") throw bad();
  const rest = sig.slice(i + 1, open === "(" ? -1 : undefined);
  if (open === "(" && sig[sig.length - 1].text !== ")") throw bad();
  let sign = "";
  if (rest.length === 2 && (rest[0].text === "-" || rest[0].text === "+")) sign = rest.shift()!.text === "-" ? "-" : "";
  if (rest.length !== 1 || !(isName(rest[0]) || rest[0].type === "number")) throw bad();
  return { name: name.toLowerCase(), ...(schema !== undefined ? { schema } : {}), value: sign + identName(rest[0]) };
}

/** Why the capability refuses this pragma, or undefined. */
export function guardedPragma(pragma: PragmaStatement): string | undefined {
  if (pragma.value === undefined || ARGUMENT_PRAGMAS.has(pragma.name) || !Object.hasOwn(GUARDED, pragma.name)) return undefined;
  const why = GUARDED[pragma.name](pragma.value);
  return why === undefined ? undefined : `the sql capability refuses PRAGMA ${pragma.name} = ${pragma.value}: ${why}`;
}

/**
 * The facts of a PRAGMA: operation `pragma` (and `other` when SQLite says it writes), and the
 * tables it reads ({@link pragmaEffect}). `text` is the statement from PRAGMA on; `scratch` an
 * in-memory database nothing else uses.
 *
 * @throws GuestError `invalid` for a syntax error or an unknown schema.
 */
export function analyzePragma(scratch: Database, schema: SchemaView, sig: Token[], text: string): BytecodeFacts & { pragma: PragmaStatement } {
  const pragma = parsePragma(sig);
  if (pragma.schema !== undefined && schema.find(pragma.schema) < 0) throw guestErrors.invalid(`unknown database ${pragma.schema}`);
  // The scratch database has only main and temp: compile the statement without its schema.
  const unqualified = pragma.schema === undefined ? text : `PRAGMA "${pragma.name}"${sig.length > 4 ? " " + text.slice(sig[4].at - sig[0].at) : ""}`;
  let readonly: boolean;
  try {
    readonly = scratch.prepare(unqualified).readonly;
  } catch (err) {
    if (err instanceof GuestError) throw err;
    throw guestErrors.invalid(err instanceof Error ? err.message.replace(/^The supplied SQL string contains more than one statement$/, "only one SQL statement per call") : String(err));
  }
  const takesArgument = ARGUMENT_PRAGMAS.has(pragma.name);
  const arg = takesArgument ? pragma.value : undefined;
  const effect = pragmaEffect(schema, pragma.name, arg, pragma.schema, !takesArgument && pragma.value !== undefined);
  const operations = new Set<string>(effect.operations);
  if (!readonly) operations.add("other");
  return { operations: sortOperations(operations), reads: [...effect.reads].sort(), writes: [...effect.writes].sort(), pragma };
}
