/**
 * A Cloudflare Worker that runs uploaded agents under a policy, with the episodic log in a
 * Durable Object's storage: every run of every request goes into one hash-chained log that
 * survives restarts and verifies.
 *
 *   POST /run?task=...   body: the agent (an ES module exporting run(task)) -> the run's result
 *   GET  /log            -> the log's events (JSON lines), and whether the chain verifies
 *
 * Deploy (see README.md here): npx wrangler deploy --config examples/edge/wrangler.toml
 */
import { EdgeKernel, createKvBackend, durableObjectKvStore, type DurableObjectStorageLike } from "agent-os/edge";
import engine from "agent-os/engine.wasm";

/** The policy every run is decided under: the standard profile, plus one API the agents may call. */
const POLICY = `version: 1
name: edge-example
extends: [standard]
rules:
  - id: example-api
    action: http.fetch
    resource: https://api.example.com/**
    methods: [GET]
    effect: allow
`;

interface Env {
  AGENT_LOG: { idFromName(name: string): unknown; get(id: unknown): { fetch(request: Request): Promise<Response> } };
}

/** One log (and one kernel over it) per Durable Object: requests to it are served one at a time. */
export class AgentLog {
  private kernel: EdgeKernel | undefined;

  constructor(private readonly state: { storage: DurableObjectStorageLike }) {}

  async fetch(request: Request): Promise<Response> {
    this.kernel ??= new EdgeKernel({ engine, policy: POLICY, log: createKvBackend(durableObjectKvStore(this.state.storage)) });
    const url = new URL(request.url);
    if (request.method === "POST" && url.pathname === "/run") {
      const agent = EdgeKernel.agent("uploaded", await request.text());
      const result = await this.kernel.execute(agent, url.searchParams.get("task") ?? "", { limits: { fuel: 100_000_000, wallTime: 20_000 } });
      return Response.json(result);
    }
    if (request.method === "GET" && url.pathname === "/log") {
      const log = await this.kernel.log;
      const lines: string[] = [];
      for await (const event of log.query({})) lines.push(JSON.stringify(event));
      const report = await log.verify();
      return new Response(lines.join("\n") + "\n", { headers: { "content-type": "application/x-ndjson", "x-verified": String(report.ok) } });
    }
    return new Response("POST /run?task=... with an agent module, or GET /log\n", { status: 404 });
  }
}

export default {
  fetch(request: Request, env: Env): Promise<Response> {
    return env.AGENT_LOG.get(env.AGENT_LOG.idFromName("default")).fetch(request);
  },
};
