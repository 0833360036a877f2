/**
 * The host tree and the policy of the fs link tests (fs-links.test.ts, fs-races.test.ts): a
 * mount whose secret/ the policy denies, and links into it in many spellings.
 */
import { mkdirSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { KernelSpace } from "../../dist/runtime/index.js";
import { attack, type Told } from "./attacker.js";
import { snapshotTree, tempDir } from "./helpers.js";

export const KEY = "TOP-SECRET-key";
export const DEEP = "TOP-SECRET-deep";
export const BASICS = { id: "basics", action: ["log.write", "clock.now", "random.bytes", "process.*"], effect: "allow" };

export const POLICY = {
  version: 1,
  name: "links",
  default: "deny",
  rules: [
    BASICS,
    { id: "workspace", action: "fs.*", resource: "/workspace/**", effect: "allow" },
    { id: "no-secret", action: "fs.*", resource: "/workspace/secret/**", effect: "deny", reason: "secrets are off limits" },
    { id: "http", action: "http.fetch", effect: "allow" }, // only where allowPrivate lets it: loopback in one test
  ],
};

export interface Tree {
  root: string;
  ws: string;
  secret: string;
  /** Everything under secret/, links not followed: must never change. */
  secretSnapshot(): Record<string, string>;
  cleanup(): void;
}

/** ws/ with secret/ (the denied directory), public/, and links into secret/ in many spellings. */
export function makeTree(): Tree {
  const tmp = tempDir("links");
  const ws = join(realpathSync(tmp.path), "ws"); // absolute link targets name the real host path
  const secret = join(ws, "secret");
  mkdirSync(join(secret, "sub"), { recursive: true });
  mkdirSync(join(ws, "public"));
  mkdirSync(join(ws, "mid"));
  writeFileSync(join(secret, "key.txt"), KEY);
  writeFileSync(join(secret, "sub", "deep.txt"), DEEP);
  writeFileSync(join(ws, "public", "readme.txt"), "public");
  const links: [string, string][] = [
    ["alias", "secret"],
    ["alias-slash", "secret/"],
    ["alias-abs", secret],
    ["alias-abs-dots", `${ws}/public/../secret`],
    ["file-alias", "secret/key.txt"],
    ["file-alias-abs", join(secret, "key.txt")],
    ["chain", "a"],
    ["a", "b"],
    ["b", "secret"],
    ["dotdot", "public/../secret"],
    ["dot", "./secret/."],
    ["public/up", "../secret"],
    ["public/up-abs", join(ws, "secret")],
    ["root-link", "."],
    ["root-abs", ws],
    ["mid/m", "../secret"],
    ["pl", "public"],
    ["public/back", "../alias"],
    ["to-sub", "secret/sub"],
    ["secret/out", "../public"],
    ["via-secret", "secret/out"],
  ];
  for (const [name, target] of links) symlinkSync(target, join(ws, name));
  return { root: tmp.path, ws, secret, secretSnapshot: () => snapshotTree(secret), cleanup: tmp.cleanup };
}

/** Every spelling of a path into secret/ through links (the directory, then key.txt below it). */
export const DIR_SPELLINGS = [
  "/workspace/alias",
  "/workspace/alias-slash",
  "/workspace/alias-abs",
  "/workspace/alias-abs-dots",
  "/workspace/chain",
  "/workspace/a",
  "/workspace/dotdot",
  "/workspace/dot",
  "/workspace/public/up",
  "/workspace/public/up-abs",
  "/workspace/root-link/secret",
  "/workspace/root-abs/secret",
  "/workspace/root-link/root-link/alias",
  "/workspace/mid/m",
  "/workspace/pl/up",
  "/workspace/public/back",
  "/workspace/pl/back",
  "/workspace/./alias/",
  "/workspace/public/../alias",
];

/** Spellings that name a file in secret/ itself. */
export const FILE_SPELLINGS = ["/workspace/file-alias", "/workspace/file-alias-abs", "/workspace/to-sub/deep.txt", "/workspace/alias/sub/deep.txt"];

export function kernelFor(tree: Tree, options: { log?: { dir: string } | false; allowPrivate?: string[] } = {}): KernelSpace {
  return new KernelSpace({ policy: POLICY, log: options.log ?? false, pool: { warm: 1 }, mounts: { "/workspace": tree.ws }, allowPrivate: options.allowPrivate ?? [] });
}

export { attack };

/** No answer the agent got holds a secret. */
export function expectNoSecretSeen(told: Told[]): void {
  for (const t of told) {
    expect(t.value ?? "").not.toContain("TOP-SECRET");
    expect(t.reason ?? "").not.toContain("TOP-SECRET");
  }
}
