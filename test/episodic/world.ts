/**
 * A small real world for recording runs: a workspace directory, a SQLite database, a local HTTP
 * server that answers differently every time (so that a replay that reached it would show), and
 * a LevelDB log directory.
 */
import Database from "better-sqlite3";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { editStored, withDb } from "./stored.js";

export interface World {
  dir: string;
  workspace: string;
  dbFile: string;
  logDir: string;
  /** http://127.0.0.1:PORT */
  origin: string;
  /** Requests the server has answered. */
  hits: () => number;
  closeServer(): Promise<void>;
  remove(): Promise<void>;
}

export async function makeWorld(prefix = "agent-os-replay-"): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const workspace = join(dir, "workspace");
  mkdirSync(workspace);
  writeFileSync(join(workspace, "notes.txt"), "Agent OS treats agents like processes.\nEvery host call passes the gate.\n");
  const dbFile = join(dir, "app.db");
  const db = new Database(dbFile);
  db.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users (name) VALUES ('ada'), ('linus');");
  db.exec("CREATE TABLE summaries (path TEXT, words INTEGER)");
  db.close();
  let hits = 0;
  const server: Server = createServer((req, res) => {
    hits++;
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ path: req.url, hit: hits, at: process.hrtime.bigint().toString() }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  let open = true;
  const closeServer = async () => {
    if (!open) return;
    open = false;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    dir,
    workspace,
    dbFile,
    logDir: join(dir, "log"),
    origin: `http://127.0.0.1:${port}`,
    hits: () => hits,
    closeServer,
    remove: async () => {
      await closeServer();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/**
 * Changes one stored record of a closed log through a second LevelDB handle: the text of its
 * canonical body is edited in place, its stored hash left as it was (what a tamperer would do).
 */
export async function editRecord(logDir: string, seq: number, edit: (body: string) => string): Promise<void> {
  await withDb(logDir, (db) => editStored(db, seq, (record) => record.slice(0, 64) + edit(record.slice(64))));
}
