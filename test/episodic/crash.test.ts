import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { openLog } from "../../dist/runtime/episodic/index.js";
import { tempDir } from "./helpers.js";

const child = fileURLToPath(new URL("./crash-child.mjs", import.meta.url));

/** Runs the appending child and SIGKILLs it `delayMs` after it opened the log; resolves with the acknowledged appends. */
function runAndKill(dir: string, round: number, delayMs: number): Promise<Map<number, string>> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, dir, String(round)], { stdio: ["ignore", "pipe", "pipe"] });
    const acked = new Map<number, string>();
    let buffered = "";
    let stderr = "";
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    p.stdout.on("data", (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        if (line === "open") setTimeout(() => p.kill("SIGKILL"), delayMs);
        else {
          const [seq, nonce] = line.split(" ");
          acked.set(Number(seq), nonce);
        }
      }
    });
    p.on("error", reject);
    p.on("close", (code, signal) => {
      // Only a partial last line can be lost with the process; every complete line was an acknowledged append.
      if (signal !== "SIGKILL") reject(new Error(`child ended with ${code}: ${stderr}`));
      else resolve(acked);
    });
  });
}

describe("crash safety", () => {
  it("keeps every acknowledged event through 20 SIGKILLs at random moments, and the chain verifies", async () => {
    const tmp = await tempDir();
    try {
      await crashAndCheck(tmp.dir);
    } finally {
      await tmp.remove();
    }
  }, 60_000);
});

async function crashAndCheck(dir: string): Promise<void> {
  const acked = new Map<number, string>();
  for (let round = 0; round < 20; round++) {
    const got = await runAndKill(dir, round, 20 + Math.floor(Math.random() * 180));
    for (const [seq, nonce] of got) acked.set(seq, nonce);
  }
  const log = await openLog({ dir });
  const report = await log.verify();
  expect(report.ok).toBe(true);
  expect(acked.size).toBeGreaterThan(100);
  const missing: number[] = [];
  for (const [seq, nonce] of acked) {
    const e = await log.get(seq);
    if (e?.data.nonce !== nonce) missing.push(seq);
  }
  expect(missing).toEqual([]);
  if (report.ok) expect(report.count).toBeGreaterThanOrEqual(Math.max(...acked.keys()));
  // Each round was a run: a query by run finds every acknowledged event of it, although the
  // index file beside the database is written after each batch and the kill may cut it.
  const lost: string[] = [];
  for (let round = 0; round < 20; round++) {
    const found = new Set<number>();
    for await (const e of log.query({ runId: `round-${round}` })) found.add(e.seq);
    for (const [seq, nonce] of acked) if (nonce.startsWith(`${round}-`) && !found.has(seq)) lost.push(`${round}:${seq}`);
  }
  expect(lost).toEqual([]);
  await log.close();
}
