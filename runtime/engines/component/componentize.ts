/**
 * componentize-js, against the kernel's `agent` world, with every WASI feature but `clocks`
 * disabled: the component imports `agentos:kernel/*` and the WASI clocks, poll and stderr that
 * its timers need, which the kernel backs with its own clock (wasi.ts). The bundle's prelude
 * (prelude.ts) gives the agent `Date`, randomness and `performance` over the kernel's imports.
 *
 * Runs in a tool worker only (see tools.ts): componentize runs WASI tools through preview2-shim,
 * which (since 0.26) must be told to preopen "/" first. That setting belongs to the worker's own
 * copy of the shim, which no agent ever sees.
 */
import { fileURLToPath } from "node:url";
import { AgentLoadError } from "../../errors.js";

export const WIT_DIR = fileURLToPath(new URL("../../../../wit/", import.meta.url));
export const WORLD = "agent";
/**
 * stdio and random are replaced by the prelude; http and fetch-event are refused outright;
 * `clocks` stays, for StarlingMonkey's timers: the kernel supplies those WASI interfaces (wasi.ts).
 */
export const DISABLED_FEATURES = ["stdio", "random", "http", "fetch-event"] as const;

export async function componentizeSource(sourcePath: string, where: string): Promise<Uint8Array> {
  const shim = await import("@bytecodealliance/preview2-shim/filesystem");
  const { componentize } = await import("@bytecodealliance/componentize-js");
  // The Node build takes host paths; the typings resolved here are the browser build's.
  (shim._setPreopens as unknown as (preopens: Record<string, string>) => void)({ "/": "/" });
  try {
    const { component } = await componentize({ sourcePath, witPath: WIT_DIR, worldName: WORLD, disableFeatures: [...DISABLED_FEATURES] });
    return component;
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    const trapped = /wizer.*trapped|Exited with i32 exit status/i.test(text);
    throw new AgentLoadError(
      trapped
        ? `${where}: the agent's top-level code failed while its snapshot was taken (top-level code runs at build time, where no host call can be made): ${detail(text)}`
        : `${where}: componentize-js failed: ${detail(text)}`,
    );
  } finally {
    shim._clearPreopens();
  }
}

function detail(text: string): string {
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("at "));
  return lines.slice(0, 6).join(" | ").slice(0, 800);
}
