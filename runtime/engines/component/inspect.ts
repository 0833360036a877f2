/**
 * What a component is, without running it: its world, imports and exports (as jco reads them),
 * its size and content hash, the tools that produced it, and whether the kernel would load it.
 */
import { AgentLoadError } from "../../errors.js";
import { sha256 } from "./cache.js";
import { checkHeader, checkWorld, summarizeWorld } from "./world.js";

export interface ComponentReport {
  size: number;
  /** Hex sha256 of the bytes: the agent's code hash in the episodic log. */
  hash: string;
  /** The component's world, as WIT. */
  wit: string;
  imports: string[];
  exports: string[];
  /** Tools and languages recorded in its producers section, e.g. "ComponentizeJS 0.23.0". */
  producers: string[];
  /** Whether the kernel's world fits it; when it does not, why. */
  fits: { ok: true } | { ok: false; reason: string };
}

/**
 * Reads a component's description.
 * @example const report = await inspectComponent(await readFile("hello.wasm"), "hello.wasm"); report.imports
 * @throws AgentLoadError when the bytes are not a WebAssembly component.
 */
export async function inspectComponent(bytes: Uint8Array, where: string): Promise<ComponentReport> {
  checkHeader(bytes, where);
  const jco = await import("@bytecodealliance/jco");
  let wit: string;
  let metadata: { producers?: [string, [string, string][]][] }[];
  try {
    wit = await jco.componentWit(bytes);
    metadata = (await jco.metadataShow(bytes)) as typeof metadata;
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    throw new AgentLoadError(`${where}: not a valid WebAssembly component (${text.split("\n")[0]})`);
  }
  const { imports, exports } = summarizeWorld(wit);
  const producers = [...new Set((metadata[0]?.producers ?? []).flatMap(([field, tools]) => (field === "processed-by" ? tools.map(([name, version]) => `${name} ${version}`.trim()) : [])))];
  let fits: ComponentReport["fits"] = { ok: true };
  try {
    checkWorld(wit, where);
  } catch (error) {
    if (!(error instanceof AgentLoadError)) throw error;
    fits = { ok: false, reason: error.message.replace(`${where}: `, "") };
  }
  return { size: bytes.length, hash: sha256(bytes), wit: wit.trim(), imports: imports.map(strip), exports: exports.map(strip), producers, fits };
}

function strip(item: string): string {
  return item.replace(/;$/, "");
}
