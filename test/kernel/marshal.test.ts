/**
 * How guest values become host data: bytes from genuine Uint8Arrays only (read through the
 * typed-array getters the isolate had before guest code ran), strings whole, NUL included.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KernelSpace } from "../../dist/runtime/index.js";
import { kernelFor, moduleAgent, policyWith, tempDir } from "./helpers.js";

describe("marshalling guest arguments", () => {
  const dir = tempDir();
  let kernel: KernelSpace;
  beforeAll(() => {
    kernel = kernelFor({ policy: policyWith([{ id: "ws", action: "fs.*", resource: "/ws/**", effect: "allow" }]), mounts: { "/ws": dir.path } });
  });
  afterAll(async () => {
    await kernel.close();
    dir.remove();
  });

  const run = async (body: string) => {
    const agent = moduleAgent("marshal", `import { write, writeText } from "agentos:kernel/fs";
      function tag(f) { try { f(); return "ok"; } catch (e) { return e.payload ? e.payload.tag : String(e); } }
      export function run() { ${body} }`);
    const result = await kernel.execute(agent, "");
    expect(result.status, result.error).toBe("ok");
    return JSON.parse(result.output!) as Record<string, string>;
  };

  it("writes exactly the bytes of a Uint8Array view, offset and length included", async () => {
    const told = await run(`
      const whole = new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7]);
      return JSON.stringify({
        view: tag(() => write("/ws/view.bin", whole.subarray(2, 5), false)),
        buffer: tag(() => write("/ws/buffer.bin", whole.buffer, false)),
      });`);
    expect(told).toEqual({ view: "ok", buffer: "ok" });
    expect([...readFileSync(join(dir.path, "view.bin"))]).toEqual([2, 3, 4]);
    expect([...readFileSync(join(dir.path, "buffer.bin"))]).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it("refuses look-alikes: a fake view, a proxy, another typed array, a view with lying getters", async () => {
    const told = await run(`
      const real = new Uint8Array([9, 9, 9, 9]);
      const liar = new Uint8Array([1, 2, 3, 4]);
      Object.defineProperty(liar, "byteLength", { get: () => 1e9 });
      Object.defineProperty(Object.getPrototypeOf(Uint8Array.prototype), "byteOffset", { get: () => 1e9, configurable: true });
      return JSON.stringify({
        fake: tag(() => write("/ws/fake.bin", { buffer: real.buffer, byteOffset: 0, byteLength: 4 }, false)),
        proxy: tag(() => write("/ws/proxy.bin", new Proxy(real, {}), false)),
        u16: tag(() => write("/ws/u16.bin", new Uint16Array([1, 2]), false)),
        liar: tag(() => write("/ws/liar.bin", liar, false)),
      });`);
    expect(told).toEqual({ fake: "invalid", proxy: "invalid", u16: "invalid", liar: "ok" });
    for (const name of ["fake.bin", "proxy.bin", "u16.bin"]) expect(existsSync(join(dir.path, name))).toBe(false);
    // The pristine getters were used: the whole four bytes, not what the guest's getters claimed.
    expect([...readFileSync(join(dir.path, "liar.bin"))]).toEqual([1, 2, 3, 4]);
  });

  it("carries a string with a NUL whole: such a path is refused as invalid, such a text is written whole", async () => {
    const told = await run(`
      return JSON.stringify({
        path: tag(() => write("/ws/a.txt\\0/../../escape", new Uint8Array([1]), false)),
        text: tag(() => writeText("/ws/nul.txt", "a\\0b\\0\\u00e9\\0\\u{1F600}", false)),
      });`);
    expect(told).toEqual({ path: "invalid", text: "ok" });
    expect(existsSync(join(dir.path, "a.txt"))).toBe(false);
    expect(readFileSync(join(dir.path, "nul.txt"), "utf8")).toBe("a\0b\0\u00e9\0\u{1F600}");
  });
});
