// The sql case of the portable conformance subset, run by the edge kernel in workerd (worker.js)
// and in Chromium (browser-entry.js): SQLite in WebAssembly (`sqlite`, sqlite.wasm as a compiled
// WebAssembly.Module) under a policy, a database saved to a store and loaded by the next kernel,
// a runaway statement interrupted at the SQL time limit, the log verified and the run replayed.
import { createMemoryBackend, EdgeKernel, memoryKvStore, verifyChain } from "../../dist/runtime/edge/index.js";
import { SQL_AGENT_SOURCE, SQL_POLICY } from "./sql-agent.js";

export async function sqlCase(engine, sqlite) {
  const store = memoryKvStore();
  const agent = EdgeKernel.agent("sql-script", SQL_AGENT_SOURCE);
  const backend = createMemoryBackend();
  const first = new EdgeKernel({ engine, policy: SQL_POLICY, log: backend, sql: { sqlite, databases: { main: { store } } } });
  let outcomes, runaway, replay, verified;
  try {
    const result = await first.execute(
      agent,
      JSON.stringify([
        ["main", "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT, score REAL)"],
        ["main", "CREATE TABLE secrets(k TEXT, v TEXT)"],
        ["main", "CREATE TABLE audit(note INTEGER)"],
        ["main", "CREATE TRIGGER keep AFTER INSERT ON notes BEGIN INSERT INTO audit VALUES (new.id); END"],
        ["main", "CREATE VIEW peek AS SELECT * FROM secrets"],
        ["main", "INSERT INTO notes(body) VALUES ('through the trigger')"],
        ["main", "DROP TRIGGER keep"],
        ["main", "INSERT INTO notes(body, score) VALUES (?, ?)", ["edge", 2.5]],
        ["main", "SELECT * FROM peek"],
        ["main", "PRAGMA trusted_schema = ON"],
        ["main", "SELEC 1"],
      ]),
    );
    outcomes = result.status === "ok" ? JSON.parse(result.output) : { status: result.status, error: result.error };
    const spun = await first.execute(agent, JSON.stringify([["main", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"]]), { limits: { sqlTimeout: 200 } });
    runaway = spun.status === "ok" ? JSON.parse(spun.output) : { status: spun.status, error: spun.error };
    replay = (await first.replay({ runId: result.runId })).status;
    verified = (await verifyChain(backend)).ok;
  } finally {
    await first.close();
  }
  const second = new EdgeKernel({ engine, policy: SQL_POLICY, sql: { sqlite, databases: { main: { store } } } });
  try {
    const result = await second.execute(agent, JSON.stringify([["main", "SELECT body, score FROM notes"]]));
    return { outcomes, runaway, replay, verified, reloaded: result.status === "ok" ? JSON.parse(result.output) : result.error };
  } finally {
    await second.close();
  }
}
