/**
 * A one-off worker that reads a QuickJS agent's `inputSchema` export. The agent's module is
 * evaluated in a fresh QuickJS runtime of its own, with a memory limit, a stack limit and a
 * deadline, and with no host at all: every kernel import throws, so module code that calls one
 * fails here and reaches nothing. The export is turned into JSON inside the isolate and passed
 * back as text; the kernel parses and checks it.
 */
import { parentPort, workerData } from "node:worker_threads";
import { newQuickJSWASMModule, RELEASE_SYNC, newVariant, shouldInterruptAfterDeadline } from "quickjs-emscripten";
import { HOST_GLOBAL, PRELUDE, kernelModules } from "../engines/quickjs/guest-modules.js";
import { installWebLoader } from "../engines/web/quickjs.js";
import "../hosts/node/quickjs.js";

export interface SchemaWorkerData {
  source: string;
  sdkSource: string;
  memory: number;
  deadlineMs: number;
}

/** `{ schema: JSON text }`, `{ schema: null }` (no such export), or `{ error }`. */
export type SchemaReply = { schema: string | null } | { error: string };

const ENTRY = "agent";
const NO_HOST = `globalThis.${HOST_GLOBAL} = new Proxy({}, { get: () => () => { throw new Error("no host calls while the kernel reads inputSchema"); } });`;
const READ = `import * as agent from "${ENTRY}";
globalThis.__schema = agent.inputSchema === undefined ? null : JSON.stringify(agent.inputSchema);`;

async function read(data: SchemaWorkerData): Promise<SchemaReply> {
  // QuickJS's own limit does not count ArrayBuffer storage: the engine's whole heap is capped too.
  const initial = 256;
  const { Memory } = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number; maximum: number }) => object } }).WebAssembly;
  const wasmMemory = new Memory({ initial, maximum: initial + Math.ceil(data.memory / 65536) });
  const quickjs = await newQuickJSWASMModule(newVariant(RELEASE_SYNC, { wasmMemory: wasmMemory as never }));
  const runtime = quickjs.newRuntime();
  runtime.setMemoryLimit(data.memory);
  runtime.setMaxStackSize(256 * 1024);
  runtime.setInterruptHandler(shouldInterruptAfterDeadline(Date.now() + data.deadlineMs));
  const modules = kernelModules(data.sdkSource);
  modules.set(ENTRY, data.source);
  runtime.setModuleLoader(
    (name) => (modules.has(name) ? { value: modules.get(name)! } : { error: new Error(`${name} cannot be imported`) }),
    (_base, requested) => requested,
  );
  const ctx = runtime.newContext();
  try {
    const setup = ctx.evalCode(NO_HOST, "no-host.js");
    if (setup.error) return { error: describe(ctx.dump(setup.error)) };
    setup.value.dispose();
    installWebLoader(ctx);
    // The agents' own prelude (TextEncoder, the kernel's Date): its host calls throw here too.
    const prelude = ctx.evalCode(PRELUDE, "prelude.js", { type: "module" });
    if (prelude.error) {
      const error = ctx.dump(prelude.error);
      prelude.error.dispose();
      return { error: describe(error) };
    }
    prelude.value.dispose();
    const evaluated = ctx.evalCode(READ, "read-schema.js", { type: "module" });
    if (evaluated.error) {
      const error = ctx.dump(evaluated.error);
      evaluated.error.dispose();
      return { error: describe(error) };
    }
    const settled = ctx.resolvePromise(evaluated.value);
    evaluated.value.dispose();
    runtime.executePendingJobs();
    const done = await settled;
    if (done.error) {
      const error = ctx.dump(done.error);
      done.error.dispose();
      return { error: describe(error) };
    }
    done.value.dispose();
    const handle = ctx.getProp(ctx.global, "__schema");
    const type = ctx.typeof(handle);
    const schema = type === "string" ? ctx.getString(handle) : null;
    handle.dispose();
    if (type !== "string" && type !== "object") return { error: "inputSchema cannot be written as JSON" };
    return { schema };
  } finally {
    ctx.dispose();
    runtime.dispose();
  }
}

function describe(error: unknown): string {
  if (error && typeof error === "object" && "message" in error) return String((error as { message: unknown }).message).slice(0, 500);
  return String(error).slice(0, 500);
}

read(workerData as SchemaWorkerData).then(
  (reply) => parentPort!.postMessage(reply),
  (error: unknown) => parentPort!.postMessage({ error: describe(error) } satisfies SchemaReply),
);
