/**
 * Loading a policy on Node: read the source (a file, YAML text or a plain object), then check,
 * follow `extends` (files and the built-ins in policies/), merge and compile. The merging is
 * merge.ts's, shared with every host; this module only says how Node finds and reads policies.
 */
import { isAbsolute, relative, resolve } from "node:path";
import { PolicyError } from "../errors.js";
import { builtinPath } from "../hosts/node/policy/builtins.js";
import { isRecord } from "./check.js";
import { LoadedPolicy } from "./loaded.js";
import { mergeSource, type MergedPolicy, type PolicyReader } from "./merge.js";
import { looksLikePath, nameFromFile, objectSource, parseYamlText, readPolicyFile, type Source } from "../hosts/node/policy/source.js";

export type { MergedPolicy } from "./merge.js";

/** Options of loadPolicy. */
export interface LoadOptions {
  /** The name used for the source in messages. Default: the path, or "<inline>" for text and objects. */
  file?: string;
  /** Where relative `extends` of YAML text or an object are resolved. Default: process.cwd(). Files use their own directory. */
  baseDir?: string;
  /** The clock for rate limits, in milliseconds. Default: Date.now. */
  now?: () => number;
}

/**
 * Loads and compiles a policy from a path (.yaml, .yml or .json), YAML text, or a plain object.
 *
 * @example
 * const policy = loadPolicy("rules:\n  - action: file_write\n    resource: /prod/*\n    effect: deny\n");
 * policy.decide(canonicalRequest("fs.write", "/prod/x")).effect === "deny";
 * @throws PolicyError listing every problem (file, line, column, field, what was expected).
 */
export function loadPolicy(source: string | object, options: LoadOptions = {}): LoadedPolicy {
  return new LoadedPolicy(mergePolicy(source, options), options.now ?? Date.now);
}

/** Loads a file whatever its name ends with (resolvePolicy uses it for existing files). */
export function loadPolicyFile(path: string, options: LoadOptions = {}): LoadedPolicy {
  const root = readPolicyFile(resolve(options.baseDir ?? process.cwd(), path), options.file ?? path);
  return new LoadedPolicy(mergeSource(root, NODE_READER), options.now ?? Date.now);
}

/** Reads, checks and merges a policy without compiling it. Throws PolicyError. */
export function mergePolicy(input: string | object, options: LoadOptions = {}): MergedPolicy {
  const baseDir = resolve(options.baseDir ?? process.cwd());
  let root: Source;
  if (typeof input === "string") {
    root = looksLikePath(input) ? readPolicyFile(resolve(baseDir, input), options.file ?? input) : parseYamlText(input, options.file ?? "<inline>", baseDir);
  } else if (isRecord(input)) {
    root = objectSource(input, options.file ?? "<inline>", baseDir);
  } else {
    throw new PolicyError([{ file: options.file, message: "expected a policy: a file path, YAML text or a plain object" }]);
  }
  return mergeSource(root, NODE_READER);
}

/** Node: built-ins are policies/<name>.yaml, paths are files relative to the policy that names them. */
const NODE_READER: PolicyReader = {
  builtin: (name) => {
    const path = builtinPath(name);
    return { id: path, display: display(path) };
  },
  file: (entry, from) => {
    const path = resolve(from.dir, entry);
    return { id: path, display: display(path) };
  },
  read: (target) => readPolicyFile(target.id, target.display),
  nameFromFile,
};

/** A path relative to the working directory when it lies below it, else absolute. */
function display(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith("..") || isAbsolute(rel) ? path : rel;
}
