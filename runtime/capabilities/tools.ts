/**
 * The tools capability of one run: the run lists the kernel's providers once, at its first
 * tool.list or tool.call, and keeps that listing (names, hashes, argument checks) for the rest
 * of the run, so that a tool cannot change under a run that already decided on it.
 *
 * - `prepare` checks a call before the policy sees it: the tool exists, the arguments fit its
 *   schema (`invalid` naming the JSON path otherwise); it gives the tool's hash for `pin`.
 * - `call` carries out a call the policy allowed; the result, as JSON text, is at most
 *   limits.output bytes (`limit` otherwise). The provider gets an AbortSignal that aborts when
 *   the run ends (SIGKILL, a deadline or another limit: `close`) or is interrupted (SIGTERM:
 *   `interrupt`); the call then answers `interrupted` at once, whatever the provider does.
 */
import { guestErrors, GuestError } from "../errors.js";
import type { JsonValue } from "../episodic/encoding.js";
import type { Limits } from "../types.js";
import { utf8Length } from "../portable/utf8.js";
import type { ListedTool, ToolListing, ToolRegistry } from "../tools/registry.js";

export interface ToolsHost {
  /** The run's listing (listed at the first call that needs it). */
  listing(): Promise<ToolListing>;
  /** Checks a call's arguments; resolves to the tool's hash. @throws GuestError `invalid`. */
  prepare(name: string, args: JsonValue): Promise<string>;
  /** Carries out an allowed call; resolves to the result as JSON text. */
  call(name: string, args: JsonValue): Promise<string>;
  /** SIGTERM: aborts the calls in flight and every later one. */
  interrupt(): void;
  /** The run has ended: aborts the calls in flight. */
  close(): void;
}

export interface ToolsContext {
  registry: ToolRegistry;
  limits: Limits;
  runId: string;
  agent: string;
}

/** @example const tools = createTools({ registry, limits, runId, agent: "triage" }); */
export function createTools(ctx: ToolsContext): ToolsHost {
  const controller = new AbortController();
  let listing: Promise<ToolListing> | undefined;
  const list = () => (listing ??= ctx.registry.list());
  const find = async (name: string): Promise<ListedTool> => {
    // (a provider that never answers its listing holds the call only until the run is interrupted or ends)
    const { tools, failed } = await abortable(list(), controller.signal, name);
    const tool = tools.get(name);
    if (tool) return tool;
    const provider = name.includes("/") ? name.slice(0, name.indexOf("/")) : "";
    if (failed.has(provider)) throw guestErrors.io(`tool provider ${JSON.stringify(provider)} could not list its tools`);
    throw guestErrors.invalid(`no tool named ${JSON.stringify(name)}`);
  };
  return {
    listing: list,
    prepare: async (name, args) => {
      const tool = await find(name);
      const problem = tool.check(args);
      if (problem !== undefined) throw guestErrors.invalid(`tool ${JSON.stringify(name)}: ${problem}`);
      return tool.hash;
    },
    call: async (name, args) => {
      const tool = await find(name);
      if (controller.signal.aborted) throw interrupted(name);
      const result = await abortable(tool.provider.call(tool.tool, args, { runId: ctx.runId, agent: ctx.agent, signal: controller.signal }), controller.signal, name);
      return resultText(name, result, ctx.limits.output);
    },
    interrupt: () => controller.abort(new Error("SIGTERM")),
    close: () => controller.abort(new Error("the run has ended")),
  };
}

function interrupted(name: string): GuestError {
  return guestErrors.interrupted(`tool ${JSON.stringify(name)}: the run was interrupted`);
}

/** The call's outcome, or `interrupted` as soon as the signal aborts. */
function abortable<T>(call: Promise<T>, signal: AbortSignal, name: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(interrupted(name));
    signal.addEventListener("abort", onAbort, { once: true });
    call.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        if (signal.aborted) reject(interrupted(name));
        else resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/** The result as JSON text, refused with `limit` when it is over limits.output bytes. */
function resultText(name: string, result: JsonValue, limit: number): string {
  let text: string;
  try {
    text = JSON.stringify(result ?? null);
  } catch {
    throw guestErrors.io(`tool ${JSON.stringify(name)} returned something that is not JSON`);
  }
  const bytes = utf8Length(text);
  if (bytes > limit) throw guestErrors.limit(`tool ${JSON.stringify(name)}: its result is ${bytes} bytes, over limits.output (${limit} bytes)`);
  return text;
}

/**
 * A tools.call's arguments (JSON text from the guest) as data.
 *
 * @example parseToolArgs('{"q":"x"}') // { q: "x" }
 * @throws GuestError `invalid` when the text is not JSON.
 */
export function parseToolArgs(text: unknown): JsonValue {
  if (typeof text !== "string") throw guestErrors.invalid("tools.call: the arguments must be JSON text");
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    throw guestErrors.invalid("tools.call: the arguments are not valid JSON");
  }
}
