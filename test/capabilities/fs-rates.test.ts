/**
 * Rate limits and the further paths of an fs call: a call refused on one of its other paths (a
 * link on the way into a denied directory) is a denied call, and denied calls are never counted
 * against a rate limit, even when its resolved path alone would have been allowed.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KernelSpace } from "../../dist/runtime/index.js";
import { POLICY, attack, makeTree, type Tree } from "./fs-link-tree.js";

describe("fs calls refused on another of their paths take no rate-limit slot", () => {
  let tree: Tree;
  let kernel: KernelSpace;
  beforeEach(() => {
    tree = makeTree();
    const rules = POLICY.rules.map((rule) => (rule.id === "workspace" ? { ...rule, rate: "2/minute" } : rule));
    kernel = new KernelSpace({ policy: { ...POLICY, rules }, log: false, pool: { warm: 1 }, mounts: { "/workspace": tree.ws } });
  });
  afterEach(async () => {
    await kernel.close();
    tree.cleanup();
  });

  it("three reads denied through a link in secret/ leave both slots of a 2/minute rule", async () => {
    // via-secret -> secret/out -> ../public: it ends in public/ (allowed) but passes secret/out (denied).
    const through = { fs: "readText" as const, path: "/workspace/via-secret/readme.txt" };
    const direct = { fs: "readText" as const, path: "/workspace/public/readme.txt" };
    const { told } = await attack(kernel, [through, through, through, direct, direct, direct]);
    expect(told.slice(0, 3).map((t) => [t.tag, t.rule])).toEqual(Array(3).fill(["denied", "no-secret"]));
    expect(told.slice(3, 5)).toEqual([
      { tag: "ok", value: "public" },
      { tag: "ok", value: "public" },
    ]);
    // The third direct read is over the limit: the limit itself still holds.
    expect(told[5]).toMatchObject({ tag: "denied", rule: "workspace" });
    expect(told[5].reason).toMatch(/^rate-limit/);
    expect(readFileSync(join(tree.ws, "public", "readme.txt"), "utf8")).toBe("public");
  });
});
