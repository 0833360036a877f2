// A kernel-side process that starts a runaway statement in an SQL process, prints that process's
// pid, and dies at once without closing anything (as a crashed kernel would).
import { SqlProcessPool } from "../../dist/runtime/hosts/node/sql/sql-process.js";
import { createRunSql } from "../../dist/runtime/hosts/node/sql/sql-run.js";
import { DEFAULT_LIMITS } from "../../dist/runtime/types.js";

const pool = new SqlProcessPool({ warm: 0 });
const sql = createRunSql({ databases: { main: { file: process.argv[2] } }, limits: { ...DEFAULT_LIMITS, sqlTimeout: 600_000 }, pool });
const runaway = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 4000000000) SELECT count(*) FROM c";
await sql.analyze("main", runaway);
void sql.query("main", runaway, []).catch(() => undefined);
// The statement is running in the SQL process by the time it has used some CPU.
setTimeout(() => {
  process.stdout.write(`${[...pool["all"]][0].pid}\n`, () => process.kill(process.pid, "SIGKILL"));
}, 1500);
