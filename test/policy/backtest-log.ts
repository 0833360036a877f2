/**
 * A real log for backtesting: a kernel records three runs under the policy "prod" (one of them
 * ten days ago, by the kernel's clock) against a real workspace and a local HTTP server, and the
 * policies a change is backtested with are written beside it.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { KernelSpace, type RunResult } from "../../dist/runtime/index.js";
import { makeWorld, type World } from "../episodic/world.js";

export const DAY = 86_400_000;

async function fetcher(origin: string, { fs, http }: any) {
  await fs.readText("/workspace/notes.txt");
  await http.fetch(`${origin}/v1/items?page=1`);
  await http.fetch(`${origin}/v1/items?page=2`);
  await http.fetch(`${origin}/v1/users/7`, { method: "POST" });
  return "fetched";
}

async function writer(_task: string, { fs }: any) {
  await fs.write("/workspace/report.txt", "done\n");
  await fs.readText("/workspace/notes.txt");
  return "written";
}

export interface BacktestLog {
  world: World;
  /** The policy the runs were recorded under. */
  prod: string;
  prodText: string;
  /** prod plus two deny rules: the items API (http) and the report file (fs). */
  next: string;
  nextText: string;
  /** prod plus a rule no recorded call meets: nothing changes. */
  harmless: string;
  /** next with `effect: alow` on line `brokenLine`, column `brokenColumn`. */
  broken: string;
  brokenLine: number;
  brokenColumn: number;
  runs: { oldFetcher: RunResult; fetcher: RunResult; writer: RunResult };
  remove(): Promise<void>;
}

export function prodPolicy(origin: string): string {
  return [
    "version: 1",
    "name: prod",
    "default: deny",
    "rules:",
    "  - id: basics",
    '    action: [log.write, clock.now, random.bytes, "process.*"]',
    "    effect: allow",
    "  - id: workspace",
    '    action: "fs.*"',
    '    resource: "/workspace/**"',
    "    effect: allow",
    "  - id: api",
    "    action: http.fetch",
    `    resource: "${origin}/**"`,
    "    effect: allow",
    "",
  ].join("\n");
}

const NEXT_RULES = [
  "  - id: no-items",
  "    action: http.fetch",
  '    resource: "ORIGIN/v1/items*"',
  "    effect: deny",
  "  - id: no-report",
  "    action: fs.write",
  "    resource: /workspace/report.txt",
  "    effect: deny",
  "",
].join("\n");

export async function recordBacktestLog(prefix = "agent-os-backtest-"): Promise<BacktestLog> {
  const world = await makeWorld(prefix);
  const prodText = prodPolicy(world.origin);
  const nextText = prodText.replace("name: prod", "name: next") + NEXT_RULES.replace("ORIGIN", world.origin);
  const harmlessText = prodText.replace("name: prod", "name: harmless") + "  - id: no-prod\n    action: fs.write\n    resource: /prod/**\n    effect: deny\n";
  const brokenText = nextText.replace("name: next", "name: broken").replace("    effect: deny\n  - id: no-report", "    effect: alow\n  - id: no-report");
  const brokenLine = brokenText.split("\n").indexOf("    effect: alow") + 1;
  const file = (name: string, text: string) => {
    const path = join(world.dir, name);
    writeFileSync(path, text);
    return path;
  };
  const options = {
    policy: file("prod.yaml", prodText),
    log: { dir: world.logDir },
    mounts: { "/workspace": world.workspace },
    allowPrivate: ["127.0.0.1"],
    pool: { warm: 1 },
  };
  let tick = 0;
  const tenDaysAgo = Date.now() - 10 * DAY;
  const past = new KernelSpace({ ...options, now: () => tenDaysAgo + tick++ });
  let oldFetcher: RunResult;
  try {
    oldFetcher = await past.execute(past.register(fetcher as never, { name: "fetcher" }), world.origin);
  } finally {
    await past.close();
  }
  const present = new KernelSpace(options);
  let runs: BacktestLog["runs"];
  try {
    const fetched = await present.execute(present.register(fetcher as never, { name: "fetcher" }), world.origin);
    const written = await present.execute(present.register(writer as never, { name: "writer" }), "");
    runs = { oldFetcher, fetcher: fetched, writer: written };
  } finally {
    await present.close();
  }
  return {
    world,
    prod: options.policy,
    prodText,
    next: file("next.yaml", nextText),
    nextText,
    harmless: file("harmless.yaml", harmlessText),
    broken: file("broken.yaml", brokenText),
    brokenLine,
    brokenColumn: 13,
    runs,
    remove: () => world.remove(),
  };
}
