/**
 * kernel.load() of a .wasm file: what is not a component, targets another world, or imports
 * what the kernel does not provide is refused with a message naming it; a component from any
 * toolchain (here: hand-written in WAT) is metered and limited like a built one.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "@bytecodealliance/jco";
import { afterAll, describe, expect, it } from "vitest";
import { AgentLoadError, KernelSpace } from "../../dist/runtime/index.js";
import { policyWith, sleep, tempDir } from "../kernel/helpers.js";

const dir = tempDir("agent-os-load-");
const kernel = new KernelSpace({ policy: policyWith(), log: false, pool: { warm: 1 }, cache: false });
afterAll(async () => {
  await kernel.close();
  dir.remove();
});

function file(name: string, bytes: Uint8Array | string): string {
  const path = join(dir.path, name);
  writeFileSync(path, bytes);
  return path;
}

async function component(name: string, wat: string): Promise<string> {
  return file(`${name}.wasm`, await parse(wat));
}

/**
 * A core module exporting a memory and `run(task)` that returns `result<string, string>` from
 * offset 16, with more functions if given.
 */
const core = (body: string, text = "hand-made", functions = "") => `
  (core module $m
    (memory (export "memory") 1)
    (data (i32.const 16) "\\00\\00\\00\\00\\20\\00\\00\\00\\${text.length.toString(16).padStart(2, "0")}\\00\\00\\00")
    (data (i32.const 32) "${text}")
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) i32.const 1024)
    ${functions}
    (func (export "run") (param i32 i32) (result i32) ${body} i32.const 16))
  (core instance $i (instantiate $m))
  (func $run (param "task" string) (result (result string (error string)))
    (canon lift (core func $i "run") (memory (core memory $i "memory")) (realloc (core func $i "realloc"))))
  (export "run" (func $run))`;

/** A spinning process: SIGSTOP freezes its fuel, SIGCONT resumes it, and its fuel budget kills it. */
async function expectStoppedResumedAndKilledByFuel(proc: ReturnType<KernelSpace["spawn"]>): Promise<void> {
  for (let t0 = Date.now(); proc.usage.fuel === 0 && Date.now() - t0 < 10_000; ) await sleep(5);
  expect(proc.usage.fuel).toBeGreaterThan(0);
  proc.signal("SIGSTOP");
  expect(await proc.stopped(5000)).toBe(true);
  const frozen = proc.usage.fuel;
  await sleep(100);
  expect(proc.usage.fuel).toBe(frozen);
  proc.signal("SIGCONT");
  expect(await proc.wait()).toMatchObject({ status: "killed", signal: "SIGXCPU", reason: "fuel" });
}

async function refusal(path: string): Promise<string> {
  const error = await kernel.load(path).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AgentLoadError);
  return (error as Error).message;
}

describe("kernel.load refuses what it cannot run, naming why", () => {
  it("a file that is not WebAssembly, or a core module", async () => {
    expect(await refusal(file("text.wasm", "not wasm at all"))).toMatch(/text\.wasm: not a WebAssembly file/);
    const coreModule = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
    expect(await refusal(file("core.wasm", coreModule))).toMatch(/core\.wasm: a core WebAssembly module, not a component; build agents with "agent-os build"/);
    const truncated = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00, 0x07, 0xff]);
    expect(await refusal(file("truncated.wasm", truncated))).toMatch(/truncated\.wasm: not a valid WebAssembly component/);
    expect(await refusal(join(dir.path, "missing.wasm"))).toMatch(/missing\.wasm: cannot read the component \(ENOENT\)/);
  });

  it("an import the kernel does not provide, named", async () => {
    const wasi = await component("wasi", `(component (import "wasi:clocks/wall-clock@0.2.3" (instance (export "now" (func (result u64))))) ${core("")})`);
    expect(await refusal(wasi)).toMatch(/wasi\.wasm: imports wasi:clocks\/wall-clock@0\.2\.3, which the kernel does not provide \(a component may import only wasi:io\/poll@0\.2\.12, .* of WASI/);
    const files = await component("files", `(component (import "wasi:filesystem/types@0.2.12" (instance)) ${core("")})`);
    expect(await refusal(files)).toMatch(/files\.wasm: imports wasi:filesystem\/types@0\.2\.12, which the kernel does not provide/);
    // An interface of timers, with a function the kernel does not supply.
    const sleep = await component("sleep", `(component (import "wasi:clocks/monotonic-clock@0.2.12" (instance (export "sleep" (func (param "ns" u64))))) ${core("")})`);
    expect(await refusal(sleep)).toMatch(/sleep\.wasm: imports wasi:clocks\/monotonic-clock@0\.2\.12#sleep, which the kernel does not provide/);
    const other = await component("other", `(component (import "evil:net/socket" (instance (export "connect" (func)))) ${core("")})`);
    expect(await refusal(other)).toMatch(/imports evil:net\/socket, which the kernel does not provide/);
    const version = await component("version", `(component (import "agentos:kernel/fs@0.2.0" (instance)) ${core("")})`);
    expect(await refusal(version)).toMatch(/imports agentos:kernel\/fs@0\.2\.0, which the kernel does not provide \(the kernel provides agentos:kernel\/\{fs,http,sql,log,clock,random,process,llm,tools\}@0\.1\.0\)/);
  });

  it("a kernel function the kernel does not have, or has with another signature", async () => {
    const exec = await component("exec", `(component (import "agentos:kernel/fs@0.1.0" (instance (export "exec" (func (param "cmd" string))))) ${core("")})`);
    expect(await refusal(exec)).toMatch(/imports agentos:kernel\/fs@0\.1\.0#exec, which the kernel does not provide/);
    const changed = await component("changed", `(component (import "agentos:kernel/fs@0.1.0" (instance (export "read-text" (func (param "path" u32) (result string))))) ${core("")})`);
    expect(await refusal(changed)).toMatch(/imports agentos:kernel\/fs@0\.1\.0#read-text with another signature than the kernel's \(readText\(path: number\): string instead of readText\(path: string\): string\)/);
  });

  it("a component of another world (no run export, or another signature)", async () => {
    const hello = await component("hello", `(component (core module $m (func (export "f"))) (core instance $i (instantiate $m)) (func $f (canon lift (core func $i "f"))) (export "hello" (func $f)))`);
    expect(await refusal(hello)).toMatch(/hello\.wasm: targets another world: it does not export run: func\(task: string\) -> result<string, string>/);
    const plain = await component(
      "plain",
      `(component (core module $m (memory (export "memory") 1) (func (export "realloc") (param i32 i32 i32 i32) (result i32) i32.const 0) (func (export "run") (param i32 i32) (result i32) i32.const 0))
        (core instance $i (instantiate $m))
        (func $run (param "task" string) (result string) (canon lift (core func $i "run") (memory (core memory $i "memory")) (realloc (core func $i "realloc"))))
        (export "run" (func $run)))`,
    );
    expect(await refusal(plain)).toMatch(/targets another world: it exports run: func\(task: string\) -> string, not run: func\(task: string\) -> result<string, string>/);
  });
});

describe("a component from another toolchain", () => {
  it("runs, and is metered: a spin in its own loop is stopped, resumed and killed by fuel", async () => {
    const ok = await kernel.load(await component("ok", `(component ${core("")})`));
    expect(ok.engine).toBe("component");
    expect(await kernel.execute(ok, "task")).toMatchObject({ status: "ok", output: "hand-made" });

    const spin = await kernel.load(await component("spin", `(component ${core("(loop $l (br $l))")})`));
    await expectStoppedResumedAndKilledByFuel(kernel.spawn(spin, "", { limits: { fuel: 50_000_000 } }));
  });

  it("is metered in a recursion without a loop too: stopped, resumed and killed by fuel", async () => {
    // fib(60) by plain recursion: about 10^12 calls, and not one loop header among them.
    const fib = `(func $fib (param $n i32) (result i32)
      (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
        (then (local.get $n))
        (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1))) (call $fib (i32.sub (local.get $n) (i32.const 2)))))))`;
    const recursion = await kernel.load(await component("fib", `(component ${core("(drop (call $fib (i32.const 60)))", "hand-made", fib)})`));
    await expectStoppedResumedAndKilledByFuel(kernel.spawn(recursion, "", { limits: { fuel: 50_000_000 } }));
  });

  it("pays one unit a loop iteration and one for the call that loops, the same on every run", async () => {
    // 1,000,000 iterations of a counted loop in run(), which the glue calls once.
    const body = `(local $i i32) (local.set $i (i32.const 1000000)) (loop $l (br_if $l (local.tee $i (i32.sub (local.get $i) (i32.const 1)))))`;
    const counted = await kernel.load(await component("counted", `(component ${core(body)})`));
    for (let i = 0; i < 2; i++) {
      const result = await kernel.execute(counted, "");
      expect(result).toMatchObject({ status: "ok", output: "hand-made" });
      expect(result.usage.fuel).toBe(1_000_001);
    }
  });

  it("a trap fails the run (state failed), the trapped instance is never entered again, and the kernel goes on", async () => {
    const trap = await kernel.load(await component("trap", `(component ${core("unreachable")})`));
    // Twice: a second run that found the first one's instance would fail to enter it instead of trapping.
    for (let i = 0; i < 2; i++) {
      const proc = kernel.spawn(trap, "");
      const result = await proc.wait();
      expect(result).toMatchObject({ status: "error", reason: "trap" });
      expect(result.error).toMatch(/the agent trapped: .*unreachable/);
      expect(result.error).not.toMatch(/cannot enter component instance/);
      expect(proc.state).toBe("failed");
    }
    const ok = await kernel.load(join(dir.path, "ok.wasm"));
    expect(await kernel.execute(ok, "again")).toMatchObject({ status: "ok", output: "hand-made" });
  });
});
