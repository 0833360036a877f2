// The web benchmark's agent: the `openai` package, unchanged, making `n` chat completions
// between two readings of the kernel's monotonic clock (after one to warm up); returns the
// microseconds per call. The task is JSON: { baseURL, prompt, answerLength, n }.
import OpenAI from "openai";
import { monotonicNow } from "agentos:kernel/clock";

export async function run(task) {
  const { baseURL, prompt, answerLength, n } = JSON.parse(task);
  const client = new OpenAI({ apiKey: "unused", baseURL, maxRetries: 0 });
  const once = async () => {
    const completion = await client.chat.completions.create({ model: "bench-model", messages: [{ role: "user", content: prompt }], max_tokens: 1024 });
    if (completion.choices[0].message.content.length !== answerLength) throw new Error("bench: unexpected answer");
  };
  await once();
  const t0 = monotonicNow();
  for (let i = 0; i < n; i++) await once();
  return String(Number(monotonicNow() - t0) / n / 1000);
}
