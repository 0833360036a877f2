/**
 * The agent the edge sql tests run: it carries out a script of SQL calls (the task, as JSON:
 * `[database, statement, params?]`, a param `{ int: "n" }` being a bigint) and answers each call's
 * outcome, so that the same script can run on EdgeKernel and on Node's kernel.
 */
export const SQL_AGENT_SOURCE = `import { sql } from "agent-os/guest";
export async function run(task) {
  const out = [];
  for (const [database, statement, params = []] of JSON.parse(task)) {
    try {
      const result = await sql.query(database, statement, params.map((p) => (p && typeof p === "object" && "int" in p ? BigInt(p.int) : p)));
      out.push(["ok", JSON.stringify(result, (k, v) => (typeof v === "bigint" ? "n" + v : v instanceof Uint8Array ? Array.from(v) : v))]);
    } catch (error) {
      out.push(error.name === "PermissionDenied" ? ["denied", error.rule, error.reason] : [error.kind ?? "thrown", error.detail ?? String(error)]);
    }
  }
  return JSON.stringify(out);
}
`;

/**
 * The policy both kernels run under: tables are made freely; a table agents may not touch; one
 * they may not write (directly or through a trigger); everything else allowed.
 */
export const SQL_POLICY = [
  "version: 1",
  "name: edge-sql",
  "rules:",
  "  - { id: setup, action: sql.query, database: main, operations: [create], effect: allow }",
  "  - { id: no-secrets, action: sql.query, database: main, operations: [select, insert, update, delete, drop, alter, pragma, other], tables: [secrets], effect: deny, reason: secrets stay put }",
  "  - { id: audit-kept, action: sql.query, database: main, operations: [insert, update, delete], tables: [audit], effect: deny, reason: the audit is the kernel's }",
  "  - { id: sql, action: sql.query, effect: allow }",
  "",
].join("\n");
