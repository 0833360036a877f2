/**
 * Agent OS in a Web page: runs the agent in the text box under the policy below, on the page's
 * own thread, with its log in IndexedDB. The log is shown after every run and when the page
 * loads (it survives a reload), with whether its hash chain verifies.
 *
 * Build and serve (from the repository, after npm install && npm run build):
 *   npx esbuild examples/edge/browser.ts --bundle --format=esm --outfile=examples/edge/app.js
 *   cp runtime/engines/quickjs-async/engine.wasm examples/edge/
 *   python3 -m http.server -d examples/edge 8080     # then open http://127.0.0.1:8080/browser.html
 */
import { EdgeKernel, createKvBackend, indexedDbKvStore, type LoggedEvent } from "agent-os/edge";

const POLICY = `version: 1
name: browser-example
extends: [standard]
`;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

async function main(): Promise<void> {
  const engine = await WebAssembly.compileStreaming(fetch("engine.wasm"));
  const log = createKvBackend(await indexedDbKvStore("agent-os-example-log"));
  const kernel = new EdgeKernel({ engine, policy: POLICY, log });
  const show = async () => {
    const chain = await kernel.log;
    const rows: string[] = [];
    for await (const e of chain.query({})) rows.push(row(e));
    $("events").innerHTML = rows.join("");
    $("verified").textContent = (await chain.verify()).ok ? "the chain verifies" : "the chain does NOT verify";
  };
  $<HTMLButtonElement>("run").onclick = async () => {
    const agent = EdgeKernel.agent("page-agent", $<HTMLTextAreaElement>("source").value);
    const result = await kernel.execute(agent, $<HTMLInputElement>("task").value, { limits: { fuel: 50_000_000, wallTime: 10_000 } });
    $("result").textContent = `${result.status}${result.reason ? ` (${result.reason})` : ""}: ${result.output ?? result.error ?? ""}`;
    await show();
  };
  await show();
  document.body.dataset.ready = "yes";
}

function row(e: LoggedEvent): string {
  const data = e.data as { action?: string; resource?: string; decision?: { effect?: string; rule?: string | null } };
  const what = e.type === "call" ? `${data.action} ${data.resource ?? ""} → ${data.decision?.effect} (${data.decision?.rule ?? "default"})` : "";
  return `<tr><td>${e.seq}</td><td>${e.type}</td><td>${escape(e.agent)}</td><td>${escape(what)}</td></tr>`;
}

function escape(text: string): string {
  return text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

void main();
