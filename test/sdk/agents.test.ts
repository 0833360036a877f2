/**
 * The OpenAI Agents SDK (`@openai/agents` 0.20) inside the sandbox: what stops it, exactly.
 *
 * The project's bundler resolves packages with no export condition but the defaults (platform
 * "neutral"). `@openai/agents-core` maps its `./_shims` export's default to its Node shims,
 * which import node:events, node:crypto, node:stream, node:stream/web, node:async_hooks,
 * node:timers and node:process; through its MCP server classes it also pulls in
 * `@modelcontextprotocol/client`'s stdio transport (node:process, node:stream) and
 * `pkce-challenge`, which exports only under the "browser" and "node" conditions. So the agent
 * does not bundle, on either engine (both use the same bundler step), before anything runs.
 */
import { afterAll, describe, expect, it } from "vitest";
import { AgentLoadError, KernelSpace } from "../../dist/runtime/index.js";
import { SDK_AGENTS } from "./scenarios.js";

const kernel = new KernelSpace({ log: false, pool: { warm: 0 }, cache: false });
afterAll(() => kernel.close());

/** Every refusal the bundler names, as "package-relative file: what". */
const REFUSED = [
  ["@openai/agents-core/dist/shims/shims-node.mjs", "node:async_hooks"],
  ["@openai/agents-core/dist/shims/shims-node.mjs", "node:events"],
  ["@openai/agents-core/dist/shims/shims-node.mjs", "node:crypto"],
  ["@openai/agents-core/dist/shims/shims-node.mjs", "node:stream/web"],
  ["@openai/agents-core/dist/shims/shims-node.mjs", "node:timers"],
  ["@openai/agents-core/dist/shims/config-node.mjs", "node:process"],
  ["@modelcontextprotocol/client/dist/stdio.mjs", "node:process"],
];

describe("the OpenAI Agents SDK does not bundle for the sandbox", () => {
  for (const engine of ["quickjs", "component"] as const) {
    it(`${engine}: kernel.load refuses it, naming the Node shims of @openai/agents-core and pkce-challenge`, async () => {
      const error = await kernel.load(SDK_AGENTS.agents, { engine }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(AgentLoadError);
      const message = (error as Error).message;
      expect(message).toContain("the agent does not bundle");
      for (const [file, what] of REFUSED) {
        expect(message).toMatch(new RegExp(`${file.replace(/[./]/g, "\\$&")}:\\d+:\\d+: cannot import "${what.replace("/", "\\/")}": a Node built-in`));
      }
      expect(message).toMatch(/@modelcontextprotocol\/client\/dist\/[^:]+:\d+:\d+: Could not resolve "pkce-challenge"/);
    });
  }
});
