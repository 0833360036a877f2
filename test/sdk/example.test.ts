/**
 * The openai-agent example, run as its README says: the README's `agent-os run` command, word
 * for word (the stand-in's port replaced by a free one, and `--log DIR` added so that the test
 * can read the log), as a child process, against the example's stand-in on 127.0.0.1.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { openLog, type ScriptedModel } from "../../dist/runtime/index.js";
import { startStandin } from "../../dist/examples/openai-agent/standin.js";
import { BIN, finished } from "../cli/helpers.js";
import { ROOT } from "../component/helpers.js";
import { tempDir } from "../kernel/helpers.js";
import { spawn } from "node:child_process";

const README = join(ROOT, "examples/openai-agent/README.md");

/** The README's first sh block: the stand-in's line and the run's line. */
function readmeCommands(): { standin: string; run: string } {
  const block = /```sh\n([\s\S]*?)```/.exec(readFileSync(README, "utf8"))?.[1] ?? "";
  const [standin, run] = block.trim().split("\n");
  return { standin, run };
}

/** Splits a command line as sh does for the forms the README uses: words, '...' and "...". */
function words(line: string): string[] {
  return [...line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]);
}

let model: ScriptedModel;
const dir = tempDir("agent-os-openai-example-");

beforeAll(async () => {
  model = await startStandin(0);
});

afterAll(async () => {
  await model?.close();
  dir.remove();
});

it("the README's command runs the agent: the tools loop answers, the stand-in saw the kernel's key, the agent never did", async () => {
  const { standin, run } = readmeCommands();
  expect(standin).toBe("node dist/examples/openai-agent/standin.js --port 8787 &");
  const port = new URL(model.url).port;
  const [env, command, ...args] = words(run.replaceAll("8787", port));
  expect(command).toBe("agent-os");
  const [name, value] = env.split("=");
  const child = spawn(process.execPath, [BIN, ...args, "--log", dir.path], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, [name]: value },
    stdio: ["ignore", "pipe", "pipe"],
  }) as ReturnType<typeof spawn> & { out: string; err: string };
  child.out = "";
  child.err = "";
  child.stdout!.setEncoding("utf8").on("data", (c: string) => (child.out += c));
  child.stderr!.setEncoding("utf8").on("data", (c: string) => (child.err += c));
  const ran = await finished(child);
  expect(ran.code, ran.stderr).toBe(0);
  expect(ran.stdout.trim()).toBe("12 times 7 is 84.");

  expect(model.requests).toHaveLength(2);
  for (const r of model.requests) expect(r.headers.authorization).toBe(`Bearer ${value}`);
  const messages = model.requests[1].body.messages as { role: string; content: unknown }[];
  expect(messages.at(-1)).toMatchObject({ role: "tool", content: "84" });

  const log = await openLog({ dir: dir.path });
  const lines: string[] = [];
  try {
    for await (const e of log.query({})) lines.push(JSON.stringify(e));
  } finally {
    await log.close();
  }
  const text = lines.join("\n");
  expect(text).toContain("http.fetch");
  expect(text).toContain("tool calculate -> 84");
  expect(text).not.toContain(value);
}, 120_000);
