/**
 * The dashboard in a real browser, over a real kernel with a real LevelDB log: each test is a
 * person's steps (open, look, press, see). One Chromium for the file; screenshots go to
 * .artifacts/dashboard/ (UPDATE_DOCS_SCREENSHOT=1 also writes docs/dashboard.png).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { dashboardForLog } from "../../dist/runtime/dashboard/index.js";
import { KernelSpace, type Agent } from "../../dist/runtime/index.js";
import { editRecord } from "../episodic/world.js";
import { tempDir } from "../kernel/helpers.js";
import { eventually, launchBrowser, newPage, screenshot } from "./browser.js";
import { go, openDashboard, policyEditor, processes, runPage } from "./views.js";

const POLICY = `version: 1
name: dashboard-test
default: deny
rules:
  - id: basics
    action: [log.write, clock.now, random.bytes, process.*]
    effect: allow
  - id: ask-warn
    action: log.write
    resource: warn
    effect: ask
  - id: ask-errors
    action: log.write
    resource: error
    effect: ask
`;

const dir = tempDir("agent-os-dashboard-");
const policyFile = join(dir.path, "policy.yaml");
/** Where approvals of scope "always" write their rules. */
const approvedFile = join(dir.path, "approved.yaml");
writeFileSync(policyFile, POLICY);
let kernel: KernelSpace;
let board: { url: string; token: string; close(): Promise<void> };
let base: string;
let browser: Browser;
let page: Page;
let runaway: Agent;

beforeAll(async () => {
  kernel = new KernelSpace({ policy: policyFile, log: { dir: join(dir.path, "log") }, pool: { warm: 2 }, limits: { fuel: 1e13, wallTime: 600_000 }, approvals: { policyFile: approvedFile } });
  runaway = await kernel.load(new URL("../../examples/runaway/agent.js", import.meta.url).pathname);
  board = await kernel.dashboard({ port: 0 });
  base = board.url.slice(0, board.url.indexOf("?"));
  browser = await launchBrowser();
  page = await newPage(browser);
}, 60_000);

afterEach(async (context) => {
  if (context.task.result?.state === "fail") await screenshot(page, `failed-${context.task.name}`);
});

afterAll(async () => {
  await browser?.close();
  await kernel?.close();
  dir.remove();
});

/** The status of a GET sent with this Host header (fetch cannot set one). */
function statusWithHost(url: string, host: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host, authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}

/** An agent that logs, is refused a file, and returns. */
const clerk = () =>
  kernel.register(async function clerk(task, sdk: { log: { info(m: string, f?: unknown): Promise<void> }; fs: { read(p: string): Promise<unknown> } }) {
    await sdk.log.info("starting", { task });
    try {
      await sdk.fs.read("/etc/secret");
    } catch {
      await sdk.log.info("refused, as expected");
    }
    return `filed ${task}`;
  } as never);

/** An agent whose warning is held for a person (rule ask-warn): "shipped" when approved, "refused" when denied. */
const courier = () =>
  kernel.register(async function courier(task, sdk: { log: { warn(m: string): Promise<void> } }) {
    try {
      await sdk.log.warn(`shipping ${task}`);
      return `shipped ${task}`;
    } catch {
      return `refused ${task}`;
    }
  } as never);

describe("the dashboard in Chromium", { timeout: 120_000 }, () => {
  it("needs its token: 401 without it or with a wrong one, 405 for a GET to a change, no CORS headers, 403 for a foreign Host; the page drops the token from the address", async () => {
    expect((await page.goto(base))!.status()).toBe(401);
    expect((await page.goto(`${base}?token=${"0".repeat(64)}`))!.status()).toBe(401);
    const bearer = { authorization: `Bearer ${board.token}` };
    const answers = [
      await fetch(`${base}api/processes`),
      await fetch(`${base}api/processes`, { headers: { authorization: "Bearer nope" } }),
      await fetch(`${base}api/signal`, { headers: bearer }),
      await fetch(`${base}api/signal`, { method: "PUT", headers: bearer }),
      await fetch(`${base}api/processes`, { headers: { ...bearer, origin: "https://evil.example" } }),
      await fetch(`${base}api/signal`, { method: "OPTIONS", headers: { origin: "https://evil.example", "access-control-request-method": "POST" } }),
    ];
    expect(answers.map((r) => r.status)).toEqual([401, 401, 405, 405, 200, 401]);
    for (const r of answers) expect([...r.headers.keys()].filter((k) => k.startsWith("access-control-"))).toEqual([]);
    // A change with the session cookie but not the header is refused.
    const cookie = (await fetch(board.url, { redirect: "manual" })).headers.get("set-cookie")!.split(";")[0];
    const cookieOnly = await fetch(`${base}api/signal`, { method: "POST", headers: { cookie, "content-type": "application/json" }, body: JSON.stringify({ pid: 1, signal: "SIGKILL" }) });
    expect(cookieOnly.status).toBe(401);

    // A page elsewhere whose name was made to resolve to 127.0.0.1 (DNS rebinding) is refused.
    expect(await statusWithHost(`${base}api/processes`, "attacker.example", board.token)).toBe(403);
    expect(await statusWithHost(`${base}api/processes`, `localhost:${new URL(base).port}`, board.token)).toBe(200);

    await openDashboard(page, board.url, "#/chain");
    expect(page.url()).toBe(`${base}#/chain`);
    await expect(page.locator("#where").textContent()).resolves.toMatch(/live kernel/);
  });

  it("shows a spinning agent's fuel rising; SIGSTOP stops it and its fuel, SIGCONT resumes it", async () => {
    const proc = kernel.spawn(runaway, "spin");
    await openDashboard(page, board.url, "#/processes");
    const table = processes(page);
    await table.row(proc.pid).waitFor({ timeout: 20_000 });
    const first = await eventually(() => table.fuel(proc.pid), (f) => f > 0);
    expect(await eventually(() => table.fuel(proc.pid), (f) => f > first)).toBeGreaterThan(first);
    await screenshot(page, "processes-running");

    await table.press(proc.pid, "SIGSTOP");
    expect(await eventually(() => table.state(proc.pid), (s) => s === "stopped")).toBe("stopped");
    // The kernel marks it stopped at once; the guest parks at its next fuel check, which on a busy
    // machine may come after the page's next refresh. Its fuel is frozen only from then on.
    expect(await proc.stopped(20_000)).toBe(true);
    const frozen = await eventually(() => table.fuel(proc.pid), (f) => f === proc.usage.fuel);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(await table.fuel(proc.pid)).toBe(frozen);
    expect(proc.usage.fuel).toBe(frozen);
    await screenshot(page, "processes-stopped");

    await table.press(proc.pid, "SIGCONT");
    expect(await eventually(() => table.state(proc.pid), (s) => s === "running")).toBe("running");
    expect(await eventually(() => table.fuel(proc.pid), (f) => f > frozen)).toBeGreaterThan(frozen);

    await table.press(proc.pid, "SIGKILL");
    await table.row(proc.pid).waitFor({ state: "detached", timeout: 20_000 });
    await expect(proc.wait()).resolves.toMatchObject({ status: "killed", signal: "SIGKILL" });
    await page.locator(`#recent tr[data-run-id="${proc.runId}"] td.status.killed`).waitFor({ timeout: 20_000 });

    // Its run: fuel rose, stayed flat while stopped, rose again; the signals in its timeline.
    await page.locator(`#recent tr[data-run-id="${proc.runId}"] a`).click();
    const run = runPage(page);
    await eventually(() => run.rows.count(), (n) => n === 5);
    await expect(run.rows.locator("td.detail").allTextContents()).resolves.toEqual(['task "spin"  policy dashboard-test', "SIGSTOP by operator", "SIGCONT by operator", "SIGKILL by operator", "killed  signal"]);
    await expect(run.chartSeries("fuel").getAttribute("data-last")).resolves.toBe(String((await proc.wait()).usage.fuel));
    await screenshot(page, "run-chart");
  });

  it("finds a run, opens its timeline, filters it to the denial and opens that event's JSON", async () => {
    const result = await kernel.execute(clerk(), "invoice 7");
    expect(result).toMatchObject({ status: "ok", denials: [{ action: "fs.read" }] });
    await openDashboard(page, board.url, "#/runs");
    await page.locator("#run-search").fill("clerk");
    await page.locator(`#runs tr[data-run-id="${result.runId}"] a`).click();
    const run = runPage(page);
    await eventually(() => run.rows.count(), (n) => n >= 5);
    await eventually(() => run.status(), (s) => /^ok/.test(s ?? ""));
    await expect(run.chartSeries("calls").getAttribute("data-last")).resolves.toBe(String(result.usage.hostCalls));

    await run.filterEffect("deny");
    await eventually(() => run.rows.count(), (n) => n === 1);
    const denial = result.denials[0].seq;
    await run.row(denial).click();
    await run.jsonDialog.waitFor({ state: "visible" });
    const json = JSON.parse((await run.jsonText())!);
    expect(json).toMatchObject({ seq: denial, type: "call", data: { action: "fs.read", resource: "/etc/secret", decision: { effect: "deny", rule: null } } });
    expect(page.url()).toContain(`event=${denial}`);
    await screenshot(page, "run-event-json");
    await page.locator("#json-close").click();
    await run.jsonDialog.waitFor({ state: "hidden" });

    // The view's address opens the same event, as a link would.
    await openDashboard(page, board.url, `#/runs/${result.runId}?effect=deny&event=${denial}`);
    await run.jsonDialog.waitFor({ state: "visible" });
    await expect(run.jsonText()).resolves.toContain('"/etc/secret"');
  });

  it("verifies the chain and replays a run identically", async () => {
    const result = await kernel.execute(clerk(), "invoice 8");
    await openDashboard(page, board.url, "#/chain");
    await page.getByRole("button", { name: "Verify the chain" }).click();
    await expect(page.locator("#chain-verdict").textContent({ timeout: 20_000 })).resolves.toMatch(/^OK: [\d,]+ events, head [0-9a-f]{64}$/);
    await screenshot(page, "chain");

    await go(page, `#/replay/${result.runId}`);
    await page.getByRole("button", { name: "Replay this run" }).click();
    await expect(page.locator("#replay-verdict").textContent({ timeout: 30_000 })).resolves.toBe(`Identical: ${result.usage.hostCalls} calls replayed, ended ok`);
  });

  it("marks the line of a policy problem as it is typed, and saves only a policy that loads", async () => {
    await openDashboard(page, board.url, "#/policy");
    const editor = policyEditor(page);
    await expect(editor.state.textContent({ timeout: 20_000 })).resolves.toBeDefined();
    await eventually(() => editor.state.textContent(), (t) => t === "loads");
    expect(await editor.text.inputValue()).toBe(POLICY);

    await editor.text.fill(POLICY.replace("default: deny", "default: maybe"));
    await eventually(() => editor.state.textContent(), (t) => t === "1 problem");
    await expect(editor.problems.first().textContent()).resolves.toMatch(/policy\.yaml:3:10\s+default: unknown effect "maybe"/);
    await expect(editor.badLines.getAttribute("data-line")).resolves.toBe("3");
    expect(await editor.save.isDisabled()).toBe(true);
    await screenshot(page, "policy-problem");

    const fixed = POLICY.replace("default: deny", "default: deny\ndescription: edited in the dashboard");
    await editor.text.fill(fixed);
    await eventually(() => editor.state.textContent(), (t) => t === "loads");
    expect(await editor.badLines.count()).toBe(0);
    await editor.save.click();
    await expect(editor.saved.textContent({ timeout: 10_000 })).resolves.toBeDefined();
    await eventually(() => editor.saved.textContent(), (t) => (t ?? "").startsWith("Saved"));
    expect(readFileSync(policyFile, "utf8")).toBe(fixed);

    const refused = await fetch(`${base}api/policy/save`, {
      method: "POST",
      headers: { "x-agent-os-token": board.token, "content-type": "application/json" },
      body: JSON.stringify({ text: "version: 1\ndefault: maybe\n" }),
    });
    expect(refused.status).toBe(422);
    expect(readFileSync(policyFile, "utf8")).toBe(fixed);
  });

  it("answers held calls: Approve once lets the agent finish, Deny shows in its timeline, Approve always shows the diff first", async () => {
    const first = kernel.spawn(courier(), "box 1");
    await openDashboard(page, board.url, "#/processes");
    await expect(eventually(() => processes(page).state(first.pid), (s) => s === "waiting")).resolves.toBe("waiting");
    await go(page, "#/approvals");
    const held = (runId: string) => page.locator(`#approvals tr[data-run-id="${runId}"]`);
    await held(first.runId).waitFor({ timeout: 20_000 });
    await screenshot(page, "approvals");
    await held(first.runId).getByRole("button", { name: "Approve once" }).click();
    await expect(first.wait()).resolves.toMatchObject({ status: "ok", output: "shipped box 1" });
    await held(first.runId).waitFor({ state: "detached", timeout: 20_000 });
    await page.locator(`#answered tr[data-outcome="approved"]`).first().waitFor({ timeout: 20_000 });

    const second = kernel.spawn(courier(), "box 2");
    await held(second.runId).getByRole("button", { name: "Deny" }).click();
    await expect(second.wait()).resolves.toMatchObject({ status: "ok", output: "refused box 2" });
    await go(page, `#/runs/${second.runId}`);
    const run = runPage(page);
    const answer = page.locator('#timeline tr[data-type="approval"] td.detail');
    await answer.waitFor({ timeout: 20_000 });
    await expect(answer.textContent()).resolves.toMatch(/^denied by dashboard: denied in the dashboard/);
    await expect(run.rows.locator('td.effect.deny').count()).resolves.toBe(1);

    const third = kernel.spawn(courier(), "box 3");
    await go(page, "#/approvals");
    await held(third.runId).getByRole("button", { name: "Approve always…" }).click();
    const diff = page.locator("#always-diff");
    await diff.waitFor({ timeout: 20_000 });
    await expect(diff.textContent()).resolves.toMatch(/\+\s+action: "log.write"\n\+\s+resource: "warn"/);
    await screenshot(page, "approvals-always");
    await page.locator("#always-confirm").click();
    await expect(third.wait()).resolves.toMatchObject({ status: "ok", output: "shipped box 3" });
    expect(readFileSync(approvedFile, "utf8")).toMatch(/approves: \["ask-warn"\]/);
  });

  it("backtests an edited policy against a recorded run and shows the call whose effect changes, under its rule", async () => {
    const result = await kernel.execute(clerk(), "invoice 9");
    await openDashboard(page, board.url, "#/policy");
    const editor = policyEditor(page);
    await eventually(() => editor.state.textContent(), (t) => t === "loads");
    await editor.text.fill(`${POLICY}  - id: read-etc\n    action: fs.read\n    resource: /etc/*\n    effect: allow\n`);
    await eventually(() => editor.state.textContent(), (t) => t === "loads");
    await page.locator(`#backtest-runs input[value="${result.runId}"]`).check();
    await page.locator("#backtest-start").click();
    await expect(page.locator("#backtest-summary").textContent({ timeout: 20_000 })).resolves.toBe(`1 of ${result.usage.hostCalls} recorded calls in 1 run would change`);
    const changed = page.locator('#backtest-result .group[data-rule="read-etc"] tbody tr');
    await expect(changed.count()).resolves.toBe(1);
    await expect(changed.locator("td").allTextContents()).resolves.toEqual([String(result.denials[0].seq), "clerk", "fs.read", "/etc/secret", "deny (default)", "allow (read-etc)"]);
    await screenshot(page, "policy-backtest");
  });

  it.runIf(process.env.UPDATE_DOCS_SCREENSHOT)("takes the README's screenshot: agents running, stopped and waiting for a person", async () => {
    const stopped = kernel.spawn(runaway, "crawl the archive");
    const running = kernel.spawn(runaway, "index the wiki");
    const alarm = kernel.register(async function alarm(task, sdk: { log: { error(m: string): Promise<void> } }) {
      await sdk.log.error(`page the on-call: ${task}`).catch(() => undefined);
      return "done";
    } as never);
    const waiting = kernel.spawn(alarm, "disk full");
    await eventually(() => kernel.approvals().length, (n) => n === 1);
    stopped.signal("SIGSTOP");
    await openDashboard(page, board.url, "#/processes");
    await eventually(() => processes(page).state(waiting.pid), (s) => s === "waiting");
    await eventually(() => processes(page).fuel(running.pid), (f) => f > 0);
    await page.screenshot({ path: new URL("../../docs/dashboard.png", import.meta.url).pathname });
    for (const proc of [stopped, running]) proc.signal("SIGKILL");
    await kernel.deny(kernel.approvals()[0].id);
    await Promise.all([stopped.wait(), running.wait(), waiting.wait()]);
  });

  it("over a tampered log (log mode): signals disabled with the reason, the first bad event named, the replay's divergence shown", async () => {
    const { runId, resultSeq, writeSeq, logDir } = await recordBranchyAndTamper();
    const readOnly = await dashboardForLog(logDir, {}, { port: 0 });
    const other = await newPage(browser);
    try {
      await openDashboard(other, readOnly.url, "#/processes");
      await expect(other.locator("#signals-note").textContent()).resolves.toMatch(/^Signals need the kernel's process/);

      await openDashboard(other, readOnly.url, "#/chain");
      await other.getByRole("button", { name: "Verify the chain" }).click();
      await expect(other.locator("#chain-verdict").textContent({ timeout: 20_000 })).resolves.toMatch(new RegExp(`^TAMPERED at event ${resultSeq}: event ${resultSeq} was changed`));
      await other.getByRole("link", { name: `open event #${resultSeq}` }).click();
      await other.locator("#json-dialog").waitFor({ state: "visible" });
      await expect(runPage(other).jsonText()).resolves.toContain('"ok": "b\\n"');
      await screenshot(other, "chain-tampered");

      await openDashboard(other, readOnly.url, `#/replay/${runId}`);
      await other.getByRole("button", { name: "Replay this run" }).click();
      await expect(other.locator("#replay-verdict").textContent({ timeout: 30_000 })).resolves.toBe(`Diverged at event #${writeSeq}: 1 call replayed identically before it`);
      await expect(other.locator("#divergence dd").allTextContents()).resolves.toEqual([
        expect.stringMatching(/^fs\.write-text \/workspace\/a\.txt/),
        expect.stringMatching(/^fs\.read-text \/workspace\/b\.txt/),
      ]);
      await screenshot(other, "replay-diverged");
    } finally {
      await other.context().close();
      await readOnly.close();
    }
  });
});

/** Reads /workspace/mode.txt and takes a branch by it. */
async function branchy(_task: string, { fs }: { fs: { readText(p: string): Promise<string>; write(p: string, t: string): Promise<void> } }) {
  const mode = (await fs.readText("/workspace/mode.txt")).trim();
  if (mode === "a") {
    await fs.write("/workspace/a.txt", "chose a\n");
    return "a";
  }
  return "b:" + (await fs.readText("/workspace/b.txt"));
}

/** Records branchy (mode "a") in a log of its own, closes it, and changes the recorded read to "b". */
async function recordBranchyAndTamper(): Promise<{ runId: string; resultSeq: number; writeSeq: number; logDir: string }> {
  const workspace = join(dir.path, "ws");
  mkdirSync(workspace, { recursive: true });
  writeFileSync(join(workspace, "mode.txt"), "a\n");
  const logDir = join(dir.path, "branchy-log");
  const recorder = new KernelSpace({ policy: "standard", mounts: { "/workspace": workspace }, log: { dir: logDir }, pool: { warm: 1 } });
  let runId: string;
  const seqs: { result?: number; write?: number } = {};
  try {
    ({ runId } = await recorder.execute(recorder.register(branchy as never), ""));
    const log = await recorder.log;
    let read: number | undefined;
    for await (const e of log.query({ runId })) {
      if (e.type === "call" && e.data.resource === "/workspace/mode.txt") read = e.seq;
      if (e.type === "result" && e.data.call === read) seqs.result = e.seq;
      if (e.type === "call" && e.data.action === "fs.write") seqs.write = e.seq;
    }
  } finally {
    await recorder.close();
  }
  await editRecord(logDir, seqs.result!, (body) => body.replace('"ok":"a\\n"', '"ok":"b\\n"'));
  return { runId, resultSeq: seqs.result!, writeSeq: seqs.write!, logDir };
}
