/**
 * The committed SQLite for the edge (runtime/edge/sqlite/sqlite.wasm) is what its build script
 * makes with emcc from better-sqlite3's amalgamation and aos-sqlite.c: rebuilding gives the same
 * bytes, whose sha256 is the one recorded beside it. It imports only the three callbacks its
 * binding gives and Emscripten's memory-growth notice, and exports what the binding calls.
 * (.ci/run installs Debian's emscripten for the rebuild.)
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SQLITE_EXPORTS, SQLITE_IMPORTS, SQLITE_WASM, buildSqlite } from "../../dist/runtime/edge/sqlite/build.js";

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const emcc = (() => {
  try {
    execFileSync("emcc", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

describe("the edge's SQLite build", () => {
  const committed = readFileSync(SQLITE_WASM);

  it("is the recorded bytes, and imports and exports what the binding expects", () => {
    expect(sha256(committed)).toBe(readFileSync(SQLITE_WASM + ".sha256", "utf8").trim());
    const mod = new WebAssembly.Module(committed);
    expect(WebAssembly.Module.imports(mod).map((i) => `${i.module}.${i.name}`).sort()).toEqual([...SQLITE_IMPORTS].sort());
    const exported = new Set(WebAssembly.Module.exports(mod).map((e) => e.name));
    expect(SQLITE_EXPORTS.filter((name) => !exported.has(name))).toEqual([]);
  });

  it.runIf(emcc)("rebuilding with emcc gives exactly the committed bytes", { timeout: 180_000 }, () => {
    const built = buildSqlite();
    expect(sha256(built)).toBe(sha256(committed));
    expect(Buffer.compare(Buffer.from(built), committed)).toBe(0);
  });
});
