/** Makes one llm.chat described by the task (JSON of its options) and reports the answer or the error, as JSON. */
import { llm } from "agent-os/guest";
export async function run(task) {
  try {
    const r = await llm.chat(JSON.parse(task));
    return JSON.stringify({ ok: r });
  } catch (e) {
    return JSON.stringify({ error: { name: e.name, kind: e.kind ?? null, message: e.message } });
  }
}
