import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openLog } from "../../dist/runtime/episodic/index.js";
import { LogError } from "../../dist/runtime/errors.js";
import { callEvent, tempDir } from "./helpers.js";

let tmp: { dir: string; remove: () => Promise<void> };
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => {
  await tmp.remove();
});

describe("one owner per log directory", () => {
  it("refuses a second handle in the same process with a clear LogError, and reopens after close", async () => {
    const log = await openLog({ dir: tmp.dir });
    const err = await openLog({ dir: tmp.dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LogError);
    expect((err as LogError).message).toBe(`the log at ${tmp.dir} is in use by another process`);
    expect((err as LogError).code).toBe("LOG");
    await log.append(callEvent(0));
    await log.close();
    const again = await openLog({ dir: tmp.dir });
    expect(again.head().seq).toBe(1);
    await again.close();
  });

  it("refuses another process with the same message", async () => {
    const log = await openLog({ dir: tmp.dir });
    const child = fileURLToPath(new URL("./open-child.mjs", import.meta.url));
    const out = await new Promise<string>((resolve, reject) => {
      const p = spawn(process.execPath, [child, tmp.dir], { stdio: ["ignore", "pipe", "inherit"] });
      let text = "";
      p.stdout.on("data", (d: Buffer) => (text += d.toString()));
      p.on("error", reject);
      p.on("close", () => resolve(text));
    });
    expect(JSON.parse(out)).toEqual({ name: "LogError", code: "LOG", message: `the log at ${tmp.dir} is in use by another process` });
    await log.close();
  });

  it("reports another failure to open as a LogError naming the directory", async () => {
    const { writeFile } = await import("node:fs/promises");
    await writeFile(tmp.dir + "/file", "not a directory");
    await expect(openLog({ dir: tmp.dir + "/file" })).rejects.toThrow(new RegExp(`log at ${tmp.dir}/file`));
  });
});
