// The conformance cases in a Web page: bundled by test/edge/chromium.test.ts and loaded by
// its page in Chromium. engine.wasm is fetched and compiled by the browser (a page may compile
// WebAssembly; an edge host may not), then handed to the edge kernel as a workerd host would.
import { conformance, fsCase, guard, model, redirect, secrets, tools } from "./conformance.js";

import { sqlCase } from "./sql-case.js";

const engine = WebAssembly.compileStreaming(fetch("/engine.wasm"));
const sqlite = WebAssembly.compileStreaming(fetch("/sqlite.wasm"));

globalThis.edgeCase = async (name, origin) => {
  try {
    if (name === "conformance") return await conformance(await engine, origin);
    if (name === "guard") return await guard(await engine, origin);
    if (name === "redirect") return await redirect(await engine, origin);
    if (name === "model") return await model(await engine, origin);
    if (name === "fs") return await fsCase(await engine);
    if (name === "sql") return await sqlCase(await engine, await sqlite);
    if (name === "tools") return await tools(await engine, origin);
    if (name === "secrets") return await secrets(await engine, origin);
    return { thrown: `unknown case ${name}` };
  } catch (error) {
    return { thrown: String((error && error.stack) || error) };
  }
};
