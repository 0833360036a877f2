// A Worker with a Durable Object that keeps the episodic log on its own storage: bundled by
// test/edge/kv-durable-object.test.ts (esbuild, platform "browser") and run in workerd through
// miniflare. Every request opens a new log over the storage, as an object evicted between two
// requests would, and closes it before answering.
import { createKvBackend } from "../../dist/runtime/edge/kv-backend.js";
import { durableObjectKvStore } from "../../dist/runtime/edge/stores/index.js";
import { createChainLog } from "../../dist/runtime/episodic/log.js";

/** Event i of a run, carrying `size` characters (some not ASCII). */
function event(i, runId, size) {
  return { type: "call", runId, pid: 7, agent: "edge", data: { action: "http.fetch", i, note: "é✓" + "x".repeat(size) } };
}

/** Deterministic bytes, so that the test can hash them too. */
function blobOf(size) {
  return Uint8Array.from({ length: size }, (_, i) => (i * 7) % 256);
}

export class LogObject {
  constructor(state) {
    this.storage = state.storage;
  }

  async fetch(request) {
    const url = new URL(request.url);
    const q = (name, fallback) => url.searchParams.get(name) ?? fallback;
    try {
      const store = durableObjectKvStore(this.storage);
      // Local workerd does not enforce Cloudflare's limits (128 keys a put, 128 KiB a value): each put is measured here.
      const seen = { puts: 0, keys: 0, bytes: 0 };
      const measured = {
        ...store,
        put(entries) {
          seen.puts++;
          seen.keys = Math.max(seen.keys, entries.length);
          for (const [, v] of entries) seen.bytes = Math.max(seen.bytes, typeof v === "string" ? 2 * v.length : v.buffer.byteLength);
          return store.put(entries);
        },
      };
      const log = await createChainLog(createKvBackend(measured));
      try {
        const before = log.head().seq;
        const n = Number(q("n", "0"));
        const runId = q("run", "run-a");
        const size = Number(q("size", "100"));
        if (n > 0) await log.appendMany(Array.from({ length: n }, (_, i) => event(before + i, runId, size)));
        const blob = Number(q("blob", "0"));
        const blobHash = blob > 0 ? await log.putBlob(blobOf(blob)) : undefined;
        const body = { before, head: log.head(), ...seen, blobHash };
        if (q("verify", "") === "1") {
          body.report = await log.verify();
          body.runs = {};
          for (const run of (q("runs", "") || "").split(",").filter(Boolean)) {
            const seqs = [];
            for await (const e of log.query({ runId: run })) seqs.push(e.seq);
            body.runs[run] = seqs;
          }
          const hash = q("getBlob", "");
          if (hash) {
            const bytes = await log.getBlob(hash);
            body.blob = bytes && { length: bytes.length, same: bytes.every((b, i) => b === (i * 7) % 256) };
          }
          const newest = [];
          for await (const e of log.query({ order: "newest", limit: 3 })) newest.push(e.seq);
          body.newest = newest;
        }
        return Response.json(body);
      } finally {
        await log.close();
      }
    } catch (error) {
      return Response.json({ thrown: String((error && error.stack) || error) }, { status: 500 });
    }
  }
}

/** The same object, on SQLite-backed storage (its key-value API: the same calls). */
export class SqlLogObject extends LogObject {}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const namespace = url.searchParams.get("sql") === "1" ? env.SQL_LOG : env.LOG;
    const stub = namespace.get(namespace.idFromName(url.searchParams.get("name") ?? "log"));
    return stub.fetch(request);
  },
};
