/**
 * A secret on the component engine: the same injection and scrubbing, since both live in the
 * kernel's http capability, checked with an agent built by `agent-os build` (cached by content
 * in the repository's `.agent-os/cache`, as the other component tests are) against a real server
 * on 127.0.0.1.
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KernelSpace, type Agent } from "../../dist/runtime/index.js";
import { BUILD_TIMEOUT_MS, CACHE_DIR } from "../component/helpers.js";

const ENV = "AOS_COMPONENT_SECRET";
const VALUE = "component-secret-Qm4/Zr+8";
const AGENT = fileURLToPath(new URL("./agent.js", import.meta.url));

let server: Server;
let origin: string;
const seen: IncomingHttpHeaders[] = [];
let kernel: KernelSpace;
let agent: Agent;

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req.headers);
    res.writeHead(200, { "x-echo": String(req.headers.authorization) });
    res.end(JSON.stringify({ youSent: req.headers.authorization }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  kernel = new KernelSpace({
    policy: { version: 1, default: "deny", rules: [{ id: "loopback", action: "http.fetch", resource: "http://127.0.0.1:*/**", effect: "allow" }] },
    secrets: [{ name: "api", env: ENV, origins: [origin], header: "Authorization", format: "Bearer {value}" }],
    allowPrivate: ["127.0.0.1"],
    log: false,
    pool: { warm: 0 },
    cache: { dir: CACHE_DIR },
  });
  agent = await kernel.load(AGENT, { engine: "component" });
}, BUILD_TIMEOUT_MS);

afterAll(async () => {
  await kernel?.close();
  await new Promise((r) => server.close(r));
});

describe("secrets on the component engine", () => {
  it("the server gets the value, the agent gets [secret:api] in the body and the header", async () => {
    process.env[ENV] = VALUE;
    try {
      expect(agent.engine).toBe("component");
      const result = await kernel.execute(agent, `${origin}/echo`);
      expect(result.status, result.error).toBe("ok");
      expect(seen.map((h) => h.authorization)).toEqual([`Bearer ${VALUE}`]);
      const told = JSON.parse(result.output ?? "{}") as { status: number; body: string; headers: Record<string, string> };
      expect(told.status).toBe(200);
      expect(JSON.parse(told.body)).toEqual({ youSent: "[secret:api]" });
      expect(told.headers["x-echo"]).toBe("[secret:api]");
      expect(result.output).not.toContain("component-secret");
    } finally {
      delete process.env[ENV];
    }
  });
});
