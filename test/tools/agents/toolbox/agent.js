/**
 * Runs the steps its task lists (JSON: [{ list: true } | { call: NAME, args }]) through the
 * tools capability and reports each outcome as JSON: { ok } or { error: { name, kind, rule, message } }.
 */
import { tools } from "agent-os/guest";

async function step(s) {
  try {
    if (s.list) return { ok: await tools.list() };
    return { ok: await tools.call(s.call, s.args) };
  } catch (e) {
    return { error: { name: e.name, kind: e.kind ?? null, rule: e.rule ?? null, message: e.message } };
  }
}

export async function run(task) {
  const out = [];
  for (const s of JSON.parse(task)) out.push(await step(s));
  return JSON.stringify(out);
}
