/**
 * wit/kernel.wit is the one source of truth: the kernel's op table (which the QuickJS engine
 * marshals by and the gate dispatches on), the guest modules and the SDK's import declarations
 * must name exactly its functions, parameters and types.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { INTERFACES, OPS, camelCase } from "../dist/runtime/kernel/ops.js";

const wit = readFileSync(new URL("../wit/kernel.wit", import.meta.url), "utf8").replace(/\/\/.*$/gm, "");

/** interface name -> function name -> [param name, param type text][] */
function parseWit(): Map<string, Map<string, [string, string][]>> {
  const out = new Map<string, Map<string, [string, string][]>>();
  for (const block of wit.matchAll(/interface\s+([\w-]+)\s*\{([\s\S]*?)\n\}/g)) {
    const funcs = new Map<string, [string, string][]>();
    for (const f of block[2].matchAll(/([\w-]+)\s*:\s*func\(([^)]*)\)/g)) {
      const params = f[2].trim() === "" ? [] : splitTopLevel(f[2]).map((p) => p.split(":").map((s) => s.trim()) as [string, string]);
      funcs.set(f[1], params);
    }
    out.set(block[1], funcs);
  }
  return out;
}

function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of text) {
    if (ch === "<") depth++;
    if (ch === ">") depth--;
    if (ch === "," && depth === 0) {
      parts.push(current);
      current = "";
    } else current += ch;
  }
  if (current.trim()) parts.push(current);
  return parts;
}

function typeText(type: unknown): string {
  if (typeof type === "string") return type === "bytes" ? "list<u8>" : type;
  const t = type as Record<string, unknown>;
  if ("list" in t) return `list<${typeText(t.list)}>`;
  if ("option" in t) return `option<${typeText(t.option)}>`;
  if ("tuple" in t) return `tuple<${(t.tuple as unknown[]).map(typeText).join(", ")}>`;
  return "named";
}

describe("the WIT contract", () => {
  const parsed = parseWit();

  it("the agent world imports exactly the kernel's interfaces", () => {
    const world = /world agent \{([\s\S]*?)\}/.exec(wit)![1];
    expect([...world.matchAll(/import ([\w-]+);/g)].map((m) => m[1])).toEqual([...INTERFACES]);
    expect(world).toMatch(/export run: func\(task: string\) -> result<string, string>;/);
  });

  it("the op table names every WIT function once, with the same parameters", () => {
    const fromWit: string[] = [];
    for (const iface of INTERFACES) for (const fn of parsed.get(iface)!.keys()) fromWit.push(`${iface}.${fn}`);
    expect(Object.keys(OPS).sort()).toEqual(fromWit.sort());
    for (const [op, spec] of Object.entries(OPS)) {
      const [iface, fn] = op.split(".");
      const witParams = parsed.get(iface)!.get(fn)!;
      expect(spec.params.map(([name]) => name), op).toEqual(witParams.map(([name]) => name));
      spec.params.forEach(([, type], i) => {
        const text = typeText(type);
        if (!text.includes("named")) expect(text.replace(/\s/g, ""), `${op} ${witParams[i][0]}`).toBe(witParams[i][1].replace(/\s/g, ""));
      });
    }
  });

  it("the SDK's declarations of the raw imports name the same functions, as jco names them", () => {
    const decls = readFileSync(new URL("../guest-sdk/kernel-imports.d.ts", import.meta.url), "utf8");
    for (const iface of INTERFACES) {
      const block = new RegExp(`declare module "agentos:kernel/${iface}@0\\.1\\.0" \\{([\\s\\S]*?)\\n\\}`).exec(decls);
      expect(block, iface).not.toBeNull();
      const declared = [...block![1].matchAll(/export function (\w+)\(/g)].map((m) => m[1]).sort();
      expect(declared, iface).toEqual([...parsed.get(iface)!.keys()].map(camelCase).sort());
    }
  });

  it("the error variant has the cases the kernel produces", () => {
    const variant = /variant error \{([\s\S]*?)\}/.exec(wit)![1];
    const cases = [...variant.matchAll(/^\s*([\w-]+)/gm)].map((m) => m[1]);
    expect(cases).toEqual(["denied", "not-found", "invalid", "io", "limit", "interrupted"]);
  });
});
