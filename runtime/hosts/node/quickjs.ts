/**
 * The Node host's parts of the QuickJS engine, registered when this module is imported:
 * engine.wasm read from the package, checked against its recorded hash and compiled once per
 * thread; and the guest's Web globals, bundled from guest-web/ by esbuild when first used.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { Wasm, type WasmModule } from "../../engines/component/wasm.js";
import { setEngineLoader } from "../../engines/quickjs-async/module.js";
import { webGroupSource } from "../../engines/web/sources.js";
import { setWebSources } from "../../engines/web/quickjs.js";

const WASM_URL = new URL("../../../../runtime/engines/quickjs-async/engine.wasm", import.meta.url);

/** engine.wasm, compiled. @throws Error when it is missing or not the recorded build */
export function loadEngineFile(): WasmModule {
  const bytes = readFileSync(WASM_URL);
  const expected = readFileSync(new URL(WASM_URL.href + ".sha256"), "utf8").trim();
  const actual = createHash("sha256").update(bytes).digest("hex");
  if (actual !== expected) throw new Error(`runtime/engines/quickjs-async/engine.wasm is not the recorded build (sha256 ${actual}, expected ${expected}): run npm run build:engine`);
  return new Wasm.Module(bytes);
}

setEngineLoader(loadEngineFile);
setWebSources(webGroupSource);
