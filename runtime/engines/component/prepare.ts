/**
 * The slow part of loading a component, done once per component and cached: check it against
 * the kernel's world, transpile it with jco (`--instantiation sync`: the glue imports nothing,
 * the kernel supplies every import), and instrument its core modules for fuel and memory.
 *
 * Runs in a tool worker (see tools.ts): jco and binaryen keep a thread busy for seconds.
 */
import { readFileSync } from "node:fs";
import { AgentLoadError } from "../../errors.js";
import { instrumentModule } from "./instrument.js";
import { checkHeader, checkInterfaces, checkWorld, type WorldSummary } from "./world.js";

/** What the kernel keeps of a prepared component (meta.json in its cache entry). */
export interface ComponentMeta {
  /** The preparation format (instrumenter and jco versions): another format is not used. */
  format: string;
  /** Hex sha256 of the component's bytes. */
  hash: string;
  size: number;
  world: WorldSummary;
  /** The glue's file name for each core module, and which of them count fuel. */
  modules: string[];
  instrumented: string[];
  memoryModule: string;
  initialPages: number;
  /** Hex sha256 of each prepared file, checked when the cache entry is read. */
  files: Record<string, string>;
}

export interface PreparedComponent {
  glue: string;
  modules: { name: string; bytes: Uint8Array }[];
  meta: Omit<ComponentMeta, "files" | "format" | "hash" | "size">;
}

const WIT_FILE = new URL("../../../../wit/kernel.wit", import.meta.url);
export const GLUE_NAME = "agent";
/**
 * jco 1.35's glue reads `process.env.JCO_DEBUG` in its debug logger, which runs several times
 * per host call (a third of the glue's own cost per call). The kernel never debugs jco.
 */
const JCO_DEBUG_CHECK = "if (!globalThis?.process?.env?.JCO_DEBUG) { return; }";

/** The TypeScript declarations jco derives from the kernel's own WIT (the reference). */
async function kernelDeclarations(): Promise<string[]> {
  const bindgen = (await import("@bytecodealliance/jco-transpile/component")) as unknown as {
    $init: Promise<void>;
    generateTypes(name: string, options: Record<string, unknown>): [string, Uint8Array][];
  };
  await bindgen.$init;
  const files = bindgen.generateTypes(GLUE_NAME, {
    wit: { tag: "source", val: readFileSync(WIT_FILE, "utf8") },
    world: "agent",
    instantiation: { tag: "sync" },
    features: { tag: "list", val: [] },
    guest: false,
  });
  return files.filter(([name]) => name.startsWith("interfaces/")).map(([, bytes]) => new TextDecoder().decode(bytes));
}

/**
 * Checks, transpiles and instruments a component.
 * @throws AgentLoadError naming what does not fit (not a component, another world, an import
 * the kernel does not provide, an instruction the instrumenter cannot meter).
 */
export async function prepareComponent(bytes: Uint8Array, where: string, progress: (step: string) => void = () => undefined): Promise<PreparedComponent> {
  checkHeader(bytes, where);
  const jco = await import("@bytecodealliance/jco");
  let wit: string;
  try {
    wit = await jco.componentWit(bytes);
  } catch (error) {
    throw new AgentLoadError(`${where}: not a valid WebAssembly component (${firstLine(error)})`);
  }
  const world = checkWorld(wit, where);

  progress("transpiling");
  let files: Record<string, Uint8Array>;
  try {
    ({ files } = await jco.transpile(bytes, { name: GLUE_NAME, instantiation: "sync", quiet: true }));
  } catch (error) {
    throw new AgentLoadError(`${where}: jco cannot transpile the component (${firstLine(error)})`);
  }
  const decoder = new TextDecoder();
  const componentDecls = Object.entries(files)
    .filter(([name]) => name.startsWith("interfaces/") && name.endsWith(".d.ts"))
    .map(([, data]) => decoder.decode(data));
  checkInterfaces(componentDecls, await kernelDeclarations(), where);

  const glue = files[`${GLUE_NAME}.js`];
  if (!glue) throw new AgentLoadError(`${where}: jco produced no glue module`);
  progress("instrumenting");
  const modules: PreparedComponent["modules"] = [];
  const instrumented: string[] = [];
  let memory: { module: string; pages: number } | undefined;
  for (const name of Object.keys(files).filter((n) => n.endsWith(".wasm")).sort()) {
    const result = instrumentModule(files[name], `${where} (${name})`);
    modules.push({ name, bytes: result.bytes });
    if (result.functions > 0) instrumented.push(name);
    if (result.initialPages !== null) {
      if (memory) throw new AgentLoadError(`${where}: more than one core module has its own memory; this engine limits exactly one`);
      memory = { module: name, pages: result.initialPages };
    }
  }
  if (!memory) throw new AgentLoadError(`${where}: no core module has a memory; this is not a component the engine can run`);
  return {
    glue: decoder.decode(glue).replaceAll(JCO_DEBUG_CHECK, "return;"),
    modules,
    meta: { world, modules: modules.map((m) => m.name), instrumented, memoryModule: memory.module, initialPages: memory.pages },
  };
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n").find((l) => l.trim() !== "")?.trim().slice(0, 300) ?? "unknown error";
}
