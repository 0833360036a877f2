/**
 * `npm start`: the Agent OS demo. Four real agents run in QuickJS isolates under the built-in
 * `standard` policy, with a real workspace directory, a real SQLite database and a real
 * LevelDB episodic log (all in a temporary directory, removed at the end):
 *
 *   summarize    a benign agent: reads notes, writes a summary, records it in SQL
 *   hostile      tries to escape: outside its mount, /etc/passwd, cloud metadata, DROP TABLE...
 *   runaway      while (true) {}: stopped by its fuel budget
 *   memory-bomb  allocates forever: stopped by its memory limit
 *
 * Then a fifth, the tool-using assistant (examples/assistant), runs under its own policy and
 * kernel against a scripted model on 127.0.0.1 and meets a prompt injection
 * (examples/assistant/section.ts). Last, it verifies both logs' hash chains.
 *
 * `node dist/examples/demo.js --dir DIR` works in DIR (created if missing) and leaves it there,
 * so that what the demo says it did can be checked on the host afterwards.
 */
import Database from "better-sqlite3";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { KernelSpace, openLog, type LoggedEvent, type RunResult } from "../runtime/index.js";
import { runAssistant } from "./assistant/section.js";

const root = fileURLToPath(new URL("../../examples/", import.meta.url));
const color = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: number) => (text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
const green = paint(32);
const red = paint(31);
const yellow = paint(33);
const dim = paint(2);
const bold = paint(1);

function heading(text: string): void {
  console.log(`\n${bold(text)}`);
}

function describe(result: RunResult): string {
  if (result.status === "ok") return green("exited ok");
  if (result.status === "killed") return red(`killed by ${result.signal} (reason: ${result.reason})`);
  return yellow(`failed (${result.reason ?? "error"}): ${result.error}`);
}

function formatEvent(e: LoggedEvent): string {
  const d = e.data as Record<string, unknown>;
  const decision = d.decision as { effect: string; rule: string | null } | undefined;
  const what =
    e.type === "call"
      ? `${String(d.action)} ${String(d.resource)} -> ${decision?.effect}${decision?.rule ? ` (${decision.rule})` : ""}`
      : e.type === "result"
        ? "ok" in d
          ? "ok"
          : `error ${(d.err as { tag: string }).tag}`
        : e.type === "signal"
          ? `${String(d.signal)} by ${String(d.by)}`
          : e.type === "exit"
            ? `${String(d.status)}${d.reason ? ` (${String(d.reason)})` : ""}`
            : e.type === "spawn"
              ? `policy ${(d.policy as { name: string }).name}, code ${String(d.codeHash).slice(0, 12)}`
              : JSON.stringify(d);
  return dim(`    #${String(e.seq).padStart(3)} ${e.type.padEnd(6)} ${what}`);
}

/** The directory given with `--dir`, if any. */
function keptDir(args: string[]): string | undefined {
  const at = args.indexOf("--dir");
  if (at < 0) return undefined;
  const dir = args[at + 1];
  if (!dir) throw new Error("--dir needs a directory");
  mkdirSync(dir, { recursive: true });
  return resolve(dir);
}

async function main(): Promise<void> {
  const kept = keptDir(process.argv.slice(2));
  const dir = kept ?? mkdtempSync(join(tmpdir(), "agent-os-demo-"));
  const workspace = join(dir, "workspace");
  mkdirSync(workspace);
  writeFileSync(
    join(workspace, "notes.txt"),
    "Agent OS treats agents like processes.\nEvery host call passes the gate.\nThe log is hash-chained.\n",
  );
  const secret = join(dir, "outside.txt");
  writeFileSync(secret, "the host's own file\n");
  const dbFile = join(dir, "app.db");
  const db = new Database(dbFile);
  db.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users (name) VALUES ('ada'), ('linus');");
  db.exec("CREATE TABLE summaries (path TEXT, words INTEGER)");
  db.close();

  const kernel = new KernelSpace({
    policy: "standard",
    // Running time generous enough that even on a busy machine the runaway meets its fuel budget
    // first, as the demo says it does.
    limits: { wallTime: 10 * 60_000 },
    mounts: { "/workspace": workspace },
    databases: { main: dbFile },
    log: { dir: join(dir, "log") },
  });
  console.log(bold("Agent OS demo") + dim(`  (policy: ${kernel.policy.name}, workspace: ${workspace})`));
  try {
    const log = await kernel.log;

    heading("1. summarize: a benign agent doing its job");
    const summarize = await kernel.load(join(root, "summarize/agent.js"));
    const ok = await kernel.execute(summarize, "/workspace/notes.txt");
    console.log(`  ${describe(ok)}; output:\n${(ok.output ?? "").replace(/^/gm, "    ")}`);
    console.log(`  summary file on the host: ${JSON.stringify(readFileSync(join(workspace, "summary.txt"), "utf8").split("\n")[0])}`);
    for await (const e of log.query({ runId: ok.runId })) console.log(formatEvent(e));

    heading("2. hostile: an agent trying to escape");
    const hostile = await kernel.load(join(root, "hostile/agent.js"));
    const attacked = await kernel.execute(hostile, "");
    console.log(`  ${describe(attacked)}; what it was told:`);
    for (const attempt of JSON.parse(attacked.output ?? "[]") as { name: string; outcome: string; detail: string }[]) {
      const mark = attempt.outcome === "ALLOWED" ? red("ALLOWED") : green("blocked");
      console.log(`    ${mark} ${attempt.name.padEnd(26)} ${attempt.outcome}: ${dim(attempt.detail)}`);
    }
    console.log(`  denials recorded by the kernel: ${attacked.denials.length}`);
    for (const d of attacked.denials) {
      const by = d.kind === "policy" ? (d.rule ?? "default") : d.kind;
      console.log(dim(`    #${d.seq} ${d.action} ${d.resource || '""'} -> ${by}: ${d.reason}`));
    }
    const check = new Database(dbFile, { readonly: true });
    const users = (check.prepare("SELECT count(*) AS n FROM users").get() as { n: number }).n;
    check.close();
    console.log(`  afterwards on the host: users table has ${users} rows; ${secret} still says ${JSON.stringify(readFileSync(secret, "utf8").trim())}`);

    heading("3. runaway: while (true) {} under a fuel budget");
    const runaway = await kernel.load(join(root, "runaway/agent.js"));
    const proc = kernel.spawn(runaway, "", { limits: { fuel: 50_000_000 } });
    // Stopped once it is spinning (however long the worker takes to start on a busy machine).
    for (let t0 = Date.now(); proc.usage.fuel === 0 && Date.now() - t0 < 10_000; ) await new Promise((r) => setTimeout(r, 5));
    proc.signal("SIGSTOP");
    await proc.stopped();
    const frozen = proc.usage.fuel;
    await new Promise((r) => setTimeout(r, 100));
    console.log(`  SIGSTOP: state ${proc.state}, fuel ${frozen} -> ${proc.usage.fuel} over 100 ms (frozen)`);
    proc.signal("SIGCONT");
    const spun = await proc.wait();
    console.log(`  SIGCONT, then: ${describe(spun)}, fuel used ${spun.usage.fuel}, ${spun.usage.wallMs} ms`);

    heading("4. memory-bomb: allocating forever under a 32 MiB heap");
    const bomb = await kernel.load(join(root, "memory-bomb/agent.js"));
    const boom = await kernel.execute(bomb, "", { limits: { memory: 32 * 1024 * 1024 } });
    console.log(`  ${describe(boom)}`);

    heading("5. assistant: a model-driven agent meets a prompt injection");
    await runAssistant(join(dir, "assistant"), root, (line) => console.log(line));

    heading("6. the episodic logs");
    const assistantLog = await openLog({ dir: join(dir, "assistant", "assistant-log") });
    try {
      for (const [name, each] of [["log", log], ["assistant's log", assistantLog]] as const) {
        const report = await each.verify();
        if (report.ok) console.log(`  ${name}: ${green("verified")}, ${report.count} events, hash chain intact, head ${report.head.slice(0, 16)}…`);
        else console.log(`  ${name}: ${red("TAMPERED")} at event #${report.firstBad}: ${report.problem}`);
      }
    } finally {
      await assistantLog.close();
    }
    console.log(dim(`  (the kernel is still serving: ${kernel.ps().length} live processes, every agent ended)`));
  } finally {
    await kernel.close();
    if (kept === undefined) rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
