// The web benchmark's baseline agents: the same request as openai.js makes, with the sandbox's
// `fetch` and `res.json()` (task mode "fetch"), or with the kernel's http.fetch from the guest
// SDK (mode "http"); returns the microseconds per call.
import { http } from "agent-os/guest";
import { monotonicNow } from "agentos:kernel/clock";

export async function run(task) {
  const { baseURL, prompt, answerLength, n, mode } = JSON.parse(task);
  const body = JSON.stringify({ model: "bench-model", messages: [{ role: "user", content: prompt }], max_tokens: 1024 });
  const headers = { "content-type": "application/json", accept: "application/json" };
  const url = `${baseURL}/chat/completions`;
  const once = async () => {
    let json;
    if (mode === "fetch") {
      const res = await fetch(url, { method: "POST", headers, body });
      json = await res.json();
    } else {
      const res = await http.fetch(url, { method: "POST", headers, body });
      json = JSON.parse(res.text());
    }
    if (json.choices[0].message.content.length !== answerLength) throw new Error("bench: unexpected answer");
  };
  await once();
  const t0 = monotonicNow();
  for (let i = 0; i < n; i++) await once();
  return String(Number(monotonicNow() - t0) / n / 1000);
}
