/**
 * A WebAssembly component through the cluster (issue 20): `agent-os submit agent.wasm` stores
 * its bytes under their sha256; the node fetches, checks, loads and runs it, and its log's
 * spawn event names that hash.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prebuild } from "../component/helpers.js";
import { agentOs } from "../cli/helpers.js";
import { startCluster, type TestCluster } from "./fixture.js";
import { hasNatsServer } from "./nats.js";

describe.skipIf(!hasNatsServer())("a component agent in the cluster", () => {
  let c: TestCluster;
  let wasm: string;
  beforeAll(async () => {
    ({ conformance: wasm } = await prebuild(["conformance"]));
    c = await startCluster();
    await c.startNode("w1");
  }, 300_000);
  afterAll(async () => c?.close(), 120_000);

  it("runs on a node from its bytes, under the hash of its bytes", async () => {
    const ran = await c.cli("submit", wasm, "--task", "count 1000", "--wait", "--json");
    expect(ran.code, ran.stderr).toBe(0);
    const result = JSON.parse(ran.stdout) as { status: string; output: string; node: string; runId: string };
    expect(result).toMatchObject({ status: "ok", output: "2997", node: "w1" });
    const hash = createHash("sha256").update(readFileSync(wasm)).digest("hex");
    const spawn = await agentOs(c.dir, "log", "--log", join(c.dir, "w1", "log"), "--run", result.runId, "--type", "spawn", "--json");
    expect(JSON.parse(spawn.stdout.trim())).toMatchObject({ type: "spawn", data: { codeHash: hash, engine: "component" } });
  }, 180_000);
});
