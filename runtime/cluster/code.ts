/**
 * Agent code in the cluster travels by content hash: the submitter stores the bytes once in the
 * object store under their sha256, and the node that runs the agent fetches them and checks
 * that they hash to the name before it runs anything.
 */
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ObjectStore } from "nats";
import { UsageError } from "../errors.js";
import type { Agent, KernelSpace } from "../kernel/kernel.js";
import type { AgentRef } from "./records.js";

const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

/** A submission's code was not found, or its bytes do not match its hash: the node refuses the run. */
export class CodeRefused extends Error {}

/** The bytes an agent's hash is over: a module's source text, or a component's .wasm bytes. */
export function codeBytes(agent: Agent, componentBytes?: Uint8Array): Uint8Array {
  if (agent.engine === "component") {
    if (!componentBytes) throw new UsageError("submit: a component agent travels as its bytes: submit its .wasm file, not the loaded Agent");
    return componentBytes;
  }
  return new TextEncoder().encode(agent.source);
}

/**
 * Stores `bytes` under `hash` unless the store has them already.
 * @example await putCode(conn.code, agent.codeHash, codeBytes(agent));
 */
export async function putCode(store: ObjectStore, hash: string, bytes: Uint8Array): Promise<void> {
  if (sha256(bytes) !== hash) throw new Error(`the code does not hash to ${hash}`);
  const info = await store.info(hash).catch(() => null);
  if (info && !info.deleted && info.size === bytes.length) return;
  await store.putBlob({ name: hash }, bytes);
}

/**
 * The node's side: fetches, checks and loads the agent a run names (cached by hash).
 * @throws CodeRefused when the store has no such code or its bytes hash to something else.
 */
export class CodeCache {
  private readonly agents = new Map<string, Promise<Agent>>();

  constructor(
    private readonly store: ObjectStore,
    private readonly kernel: KernelSpace,
    private readonly dir: string,
  ) {}

  agent(ref: AgentRef): Promise<Agent> {
    const key = `${ref.engine}:${ref.codeHash}`;
    let loading = this.agents.get(key);
    if (!loading) {
      loading = this.fetch(ref);
      this.agents.set(key, loading);
      loading.catch(() => this.agents.delete(key));
    }
    return loading.then((agent) => ({ ...agent, name: ref.name, kind: ref.kind }));
  }

  private async fetch(ref: AgentRef): Promise<Agent> {
    if (!/^[0-9a-f]{64}$/.test(ref.codeHash)) throw new CodeRefused(`the code hash ${JSON.stringify(ref.codeHash)} is not a sha256`);
    const bytes = await this.store.getBlob(ref.codeHash);
    if (!bytes) throw new CodeRefused(`the cluster has no code with hash ${ref.codeHash}`);
    const actual = sha256(bytes);
    if (actual !== ref.codeHash) throw new CodeRefused(`the code stored as ${ref.codeHash} hashes to ${actual}: refused`);
    if (ref.engine === "component") {
      mkdirSync(this.dir, { recursive: true });
      const file = join(this.dir, `${ref.codeHash}.wasm`);
      writeFileSync(file, bytes);
      const agent = await this.kernel.load(file, { name: ref.name });
      if (agent.codeHash !== ref.codeHash) throw new CodeRefused(`the component loaded from ${ref.codeHash} has hash ${agent.codeHash}: refused`);
      return agent;
    }
    if (ref.engine !== "quickjs") throw new CodeRefused(`unknown engine ${JSON.stringify(ref.engine)}`);
    return { name: ref.name, kind: ref.kind, engine: "quickjs", source: utf8(bytes, ref.codeHash), codeHash: ref.codeHash };
  }
}

function utf8(bytes: Uint8Array, hash: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new CodeRefused(`the code stored as ${hash} is not UTF-8 text: refused`);
  }
}
