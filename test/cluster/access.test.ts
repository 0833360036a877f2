/**
 * Access to a cluster whose server takes nkeys (issue 20, item 6): a node and a client with the
 * cluster's nkey seed work; another seed, or a token, is refused with exit 2, and reaches nothing.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createUser } from "nkeys.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentOs, start, waitForStderr } from "../cli/helpers.js";
import { AGENTS, POLICY_V1, stopNode, type NodeProcess } from "./fixture.js";
import { hasNatsServer, startNats, type NatsServer } from "./nats.js";

describe.skipIf(!hasNatsServer())("a cluster with nkey authentication", () => {
  let nats: NatsServer;
  let dir: string;
  let node: NodeProcess | undefined;
  beforeAll(async () => {
    const user = createUser();
    dir = mkdtempSync(join(tmpdir(), "agent-os-nkey-"));
    mkdirSync(join(dir, "shared"));
    writeFileSync(join(dir, "cluster.nk"), new TextDecoder().decode(user.getSeed()));
    writeFileSync(join(dir, "other.nk"), new TextDecoder().decode(createUser().getSeed()));
    writeFileSync(join(dir, "append.js"), AGENTS["append.js"]);
    writeFileSync(join(dir, "policy.yaml"), POLICY_V1);
    nats = await startNats({ nkey: user.getPublicKey() });
  }, 60_000);
  afterAll(async () => {
    if (node) await stopNode(node);
    await nats?.close();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it("the cluster's seed runs a node and submits; another seed or a token is refused (exit 2) and nothing runs", async () => {
    node = start(dir, "node", "--nats", nats.url, "--nkey", "cluster.nk", "--name", "k1", "--log", "k1/log", "--policy", "policy.yaml", "--mount", `/shared=${join(dir, "shared")}`) as NodeProcess;
    await waitForStderr(node, /ready: capacity/, 60_000);
    writeFileSync(join(dir, "shared", "runs.txt"), "");
    const ok = await agentOs(dir, "submit", "append.js", "--task", "with-seed", "--wait", "--nats", nats.url, "--nkey", "cluster.nk");
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe("done with-seed\n");

    for (const auth of [["--nkey", "other.nk"], ["--token", "a-token"], []]) {
      const r = await agentOs(dir, "submit", "append.js", "--task", "intruder", "--nats", nats.url, ...auth);
      expect(r.code, auth.join(" ")).toBe(2);
      expect(r.stderr).toMatch(/refused the credentials/);
    }
    const both = await agentOs(dir, "ps", "--nats", nats.url, "--nkey", "cluster.nk", "--token", "t");
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("a token or an nkey seed, not both");
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(readFileSync(join(dir, "shared", "runs.txt"), "utf8")).toBe("with-seed\n");
  }, 120_000);
});

const TLS = new URL("../fixtures/tls/", import.meta.url).pathname;

describe.skipIf(!hasNatsServer())("a cluster that requires TLS", () => {
  let nats: NatsServer;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "agent-os-tls-"));
    writeFileSync(join(dir, "policy.yaml"), POLICY_V1);
    nats = await startNats({ tls: { cert: join(TLS, "server.pem"), key: join(TLS, "server-key.pem") } });
  }, 60_000);
  afterAll(async () => {
    await nats?.close();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it("--tls-ca with the cluster's CA connects (a policy is pushed); without it, the server's certificate is not trusted and nothing is sent", async () => {
    const pushed = await agentOs(dir, "policy", "push", "policy.yaml", "--nats", nats.url, "--token", nats.token, "--tls-ca", join(TLS, "ca.pem"), "--json");
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(JSON.parse(pushed.stdout)).toMatchObject({ name: "cluster-v1", revision: 1 });
    const untrusted = await agentOs(dir, "policy", "push", "policy.yaml", "--nats", nats.url, "--token", nats.token);
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr).toMatch(/cannot reach the NATS server/);
    const plain = await agentOs(dir, "ps", "--nats", nats.url.replace("tls://", "nats://"), "--token", nats.token);
    expect(plain.code).not.toBe(0);
    const again = await agentOs(dir, "policy", "push", "policy.yaml", "--nats", nats.url, "--token", nats.token, "--tls-ca", join(TLS, "ca.pem"), "--json");
    expect(JSON.parse(again.stdout)).toMatchObject({ revision: 2 });
  }, 120_000);
});
