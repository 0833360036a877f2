/**
 * Policy versions in the cluster's key-value bucket. `agent-os policy push` checks a policy with
 * the project's loader and stores its text with every file it extends, under the key "active";
 * the bucket keeps the history. A node watches the key and compiles each new version (checking
 * that it gives the hash that was pushed); each run starts under the version current then and
 * keeps it to its end.
 */
import { readFileSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import type { KV, QueuedIterator, KvEntry } from "nats";
import { PolicyError } from "../errors.js";
import { loadPolicyFile } from "../policy/load.js";
import { compilePolicy } from "../policy/portable.js";
import type { LoadedPolicy } from "../policy/loaded.js";
import type { Policy } from "../types.js";
import { json } from "./connect.js";
import type { PolicyRef, PolicyVersion } from "./records.js";

export const ACTIVE_KEY = "active";

/**
 * Reads and checks a policy file and everything it extends: the version to store. The node
 * compiles the same texts; both must give the hash Node's own loader gives the file.
 * @throws PolicyError (file, line, column, field) for a policy that does not load.
 */
export function policyVersion(file: string, now = Date.now()): PolicyVersion {
  const loaded = loadPolicyFile(file);
  const root = readFileSync(file, "utf8");
  const base = dirname(resolve(file));
  const files: Record<string, string> = {};
  const compiled = compilePolicy(root, {
    file: basename(file),
    readPolicy: (ref) => {
      const text = readFileSync(resolve(base, ref), "utf8");
      files[ref] = text;
      return text;
    },
  });
  if (compiled.hash !== loaded.hash) {
    throw new PolicyError([{ file, message: `the policy compiles to another hash from its texts (${compiled.hash.slice(0, 12)}) than from its files (${loaded.hash.slice(0, 12)}): an extends path that is absolute or leaves its directory cannot be pushed` }]);
  }
  return { name: loaded.name, hash: loaded.hash, file: basename(file), root, files, pushedAt: now };
}

/** Compiles a stored version. @throws PolicyError when it does not load or gives another hash. */
export function compileVersion(version: PolicyVersion): LoadedPolicy {
  const policy = compilePolicy(version.root, {
    file: version.file,
    readPolicy: (ref) => {
      if (!Object.hasOwn(version.files, ref)) throw new Error(`the pushed version does not include ${ref}`);
      return version.files[ref];
    },
  });
  if (policy.hash !== version.hash) throw new PolicyError([{ file: version.file, message: `the stored version compiles to hash ${policy.hash}, not the ${version.hash} it was pushed with` }]);
  return policy;
}

/** Stores a version as the active one; resolves with its revision. */
export async function pushVersion(kv: KV, version: PolicyVersion): Promise<number> {
  return kv.put(ACTIVE_KEY, json.encode(version));
}

/** The policy a node starts runs under: the newest pushed version, or its own until one is. */
export class ClusterPolicies {
  private current: { policy: Policy; ref: PolicyRef };
  private watcher: QueuedIterator<KvEntry> | undefined;

  constructor(
    private readonly kv: KV,
    local: Policy,
    private readonly say: (line: string) => void,
  ) {
    this.current = { policy: local, ref: { name: local.name, hash: local.hash, revision: 0 } };
  }

  /** Loads the active version (if any) and follows its changes. */
  async start(): Promise<void> {
    const entry = await this.kv.get(ACTIVE_KEY);
    if (entry) this.take(entry);
    this.watcher = await this.kv.watch({ key: ACTIVE_KEY });
    void (async () => {
      for await (const e of this.watcher!) this.take(e);
    })().catch(() => undefined);
  }

  /** The version a run starting now gets. */
  get active(): { policy: Policy; ref: PolicyRef } {
    return this.current;
  }

  stop(): void {
    this.watcher?.stop();
  }

  private take(entry: KvEntry): void {
    if (entry.operation !== "PUT" || entry.revision <= this.current.ref.revision) return;
    try {
      const version = json.decode<PolicyVersion>(entry.value);
      const policy = compileVersion(version);
      this.current = { policy, ref: { name: policy.name, hash: policy.hash, revision: entry.revision } };
      this.say(`policy ${policy.name} ${policy.hash.slice(0, 12)} (revision ${entry.revision}) is now active for new runs`);
    } catch (error) {
      this.say(`policy revision ${entry.revision} refused, keeping ${this.current.ref.hash.slice(0, 12)}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
