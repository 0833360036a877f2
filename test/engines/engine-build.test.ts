/**
 * The committed engine (runtime/engines/quickjs-async/engine.wasm) is exactly what its build
 * script makes from the installed quickjs-emscripten: rebuilding gives the same bytes, whose
 * sha256 is the one recorded beside it (and checked by the loader).
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ENGINE_WASM, buildEngine } from "../../dist/runtime/engines/quickjs-async/build.js";

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

describe("the asynchronous engine's build", () => {
  it("rebuilding gives exactly the committed bytes, with the recorded sha256", { timeout: 120_000 }, async () => {
    const recorded = readFileSync(ENGINE_WASM + ".sha256", "utf8").trim();
    const committed = readFileSync(ENGINE_WASM);
    expect(sha256(committed)).toBe(recorded);
    const built = await buildEngine();
    expect(built.length).toBe(committed.length);
    expect(sha256(built)).toBe(recorded);
    expect(Buffer.compare(Buffer.from(built), committed)).toBe(0);
  });
});
