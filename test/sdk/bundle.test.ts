/**
 * The SDKs through the project's bundler (the step both engines share): each agent bundles with
 * no Node built-in left in it, not even one refused lazily (a `require` that would throw when it
 * runs), because packages resolve under the "browser" export condition. Without it (measured
 * with @openai/agents 0.20 and ai 6): `@openai/agents-core` takes its Node shims (node:events,
 * node:crypto, node:stream, node:stream/web, node:async_hooks, node:timers, node:process) and
 * `pkce-challenge` does not resolve at all, so the Agents SDK does not bundle; and the AI SDK's
 * `@vercel/oidc` takes its Node build, which requires fs and path as it loads, so every AI SDK
 * agent fails at start.
 */
import { describe, expect, it } from "vitest";
import { bundleAgent } from "../../dist/runtime/hosts/node/build/bundle.js";
import { QUICKJS_PROFILE } from "../../dist/runtime/engines/quickjs/agent.js";
import { SDK_AGENTS } from "./scenarios.js";

async function bundle(file: string): Promise<{ code: string; inputs: string[] }> {
  return bundleAgent(file, file, QUICKJS_PROFILE);
}

describe("the SDKs bundle for the sandbox, with nothing of Node in them", () => {
  /** The built-ins the bundle refuses lazily (each becomes a module that throws if it runs). */
  const refused = (code: string) => [...new Set([...code.matchAll(/cannot import "([^"]+)"/g)].map((m) => m[1]))].sort();

  it.each(["openai", "ai"] as const)("%s", async (name) => {
    const { code, inputs } = await bundle(SDK_AGENTS[name]);
    expect(refused(code)).toEqual([]);
    expect(inputs.some((f) => f.includes("/node_modules/"))).toBe(true);
  });

  it("agents: only the debug package's Node half (tty, util), which it picks only when `process` exists", async () => {
    const { code } = await bundle(SDK_AGENTS.agents);
    expect(refused(code)).toEqual(["tty", "util"]);
  });

  it("the Agents SDK takes agents-core's browser shims, not its Node ones", async () => {
    const { inputs } = await bundle(SDK_AGENTS.agents);
    expect(inputs.some((f) => f.endsWith("@openai/agents-core/dist/shims/shims-browser.mjs"))).toBe(true);
    expect(inputs.some((f) => f.includes("shims-node"))).toBe(false);
    expect(inputs.some((f) => f.includes("/@modelcontextprotocol/client/"))).toBe(false); // (its stdio transport, and pkce-challenge)
  });

  it("the AI SDK takes @vercel/oidc's browser build (its Node build requires fs and path as it loads)", async () => {
    const { inputs } = await bundle(SDK_AGENTS.ai);
    expect(inputs.some((f) => f.endsWith("@vercel/oidc/dist/index-browser.js"))).toBe(true);
    expect(inputs.some((f) => f.endsWith("@vercel/oidc/dist/auth-config.js"))).toBe(false);
  });
});
