/**
 * How hosts without a file system (a browser, workerd) find what `extends` names: the
 * built-ins from their embedded texts (builtin-texts.ts), anything else only through the
 * host's `readPolicy` hook.
 */
import { EXTENDABLE_BUILTINS } from "./builtin-names.js";
import { BUILTIN_TEXTS } from "./builtin-texts.js";
import { describe, isRecord } from "./check.js";
import type { PolicyReader, PolicyTarget } from "./merge.js";
import { nameFromRef, objectSource, parseYamlText, unreadableSource, type Source } from "./parse.js";

/**
 * A host's hook reading the policy a reference names: YAML text or a plain object. The
 * reference is the `extends` entry resolved against the reference of the policy naming it and
 * normalized (see resolveRef): `./team.yaml` is read as `team.yaml`. It may throw; the message
 * becomes a problem of the policy.
 */
export type ReadPolicy = (ref: string) => string | Record<string, unknown>;

/** A target of the embedded reader: a built-in's name, or a reference for the hook. */
interface EmbeddedTarget extends PolicyTarget {
  builtin?: string;
}

/**
 * The reader of hosts without a file system. Built-ins are `policies/<name>.yaml` in messages;
 * a reference is its own identity.
 *
 * @example mergeSource(parseYamlText("extends: [strict]\n", "<inline>", ""), embeddedReader())
 */
export function embeddedReader(readPolicy?: ReadPolicy): PolicyReader<EmbeddedTarget> {
  return {
    builtin: (name) => ({ id: `builtin:${name}`, display: `policies/${name}.yaml`, builtin: name }),
    file: (entry, from) => {
      if (!readPolicy) return { problem: cannotReadFiles(entry) };
      const ref = resolveRef(entry, from.path);
      return { id: ref, display: ref };
    },
    read: (target) => (target.builtin === undefined ? readThrough(readPolicy, target.id) : readBuiltin(target.builtin, target)),
    nameFromFile: nameFromRef,
  };
}

function readBuiltin(name: string, target: PolicyTarget): Source {
  const text = Object.hasOwn(BUILTIN_TEXTS, name) ? BUILTIN_TEXTS[name] : undefined;
  if (text === undefined) return unreadableSource(target.display, "", `the built-in policy "${name}" was not embedded: run node runtime/policy/embed-builtins.mjs`, target.id);
  return { ...parseYamlText(text, target.display, ""), path: target.id };
}

/**
 * Why a path in `extends` (or given as the policy) cannot be followed without a readPolicy hook.
 *
 * @example cannotReadFiles("./team.yaml") // 'cannot read "./team.yaml": this host cannot read policy files; ...'
 */
export function cannotReadFiles(ref: string): string {
  return (
    `cannot read ${JSON.stringify(ref)}: this host cannot read policy files; ` +
    `give compilePolicy a readPolicy hook, or extend a built-in policy (${EXTENDABLE_BUILTINS.join(", ")})`
  );
}

/**
 * Reads a reference through the hook into a Source whose identity is the reference and whose
 * name in messages is `file`.
 *
 * @example readThrough((ref) => "default: allow\n", "team.yaml").value // { default: "allow" }
 */
export function readThrough(readPolicy: ReadPolicy | undefined, ref: string, file = ref): Source {
  if (!readPolicy) return unreadableSource(file, "", cannotReadFiles(ref), ref);
  let given: unknown;
  try {
    given = readPolicy(ref);
  } catch (e) {
    return unreadableSource(file, "", `cannot read the policy: ${errorMessage(e)}`, ref);
  }
  if (typeof given === "string") return { ...parseYamlText(given, file, ""), path: ref };
  if (isRecord(given) && typeof given.then === "function") {
    return unreadableSource(file, "", "cannot read the policy: readPolicy returned a promise; it must return the text (compilePolicy is synchronous: read the files first)", ref);
  }
  if (isRecord(given)) return { ...objectSource(given, file, ""), path: ref };
  return unreadableSource(file, "", `cannot read the policy: readPolicy returned ${describe(given)}; expected YAML text or a plain object`, ref);
}

function errorMessage(e: unknown): string {
  try {
    return e instanceof Error ? e.message : String(e);
  } catch {
    return "readPolicy threw an unprintable value";
  }
}

/**
 * An `extends` entry resolved against the reference of the policy naming it, the way relative
 * URLs are, and normalized (no `.` segments, `..` resolved where it can be): `./b.yaml` in
 * `team/a.yaml` is `team/b.yaml`; in a policy given directly (no reference) it is `b.yaml`.
 * Absolute URLs are passed as written.
 *
 * @example resolveRef("../shared/base.yaml", "team/a.yaml") === "shared/base.yaml"
 */
export function resolveRef(entry: string, from: string | undefined): string {
  if (SCHEME.test(entry)) return entry;
  if (from !== undefined && SCHEME.test(from)) {
    try {
      return new URL(entry, from).href;
    } catch {
      return entry;
    }
  }
  const base = from === undefined || entry.startsWith("/") ? [] : from.split("/").slice(0, -1);
  return normalizeRef([...base, ...entry.split("/")]);
}

function normalizeRef(segments: string[]): string {
  const absolute = segments[0] === "";
  const out: string[] = [];
  for (const segment of segments) {
    if (segment === "" || segment === ".") continue;
    if (segment !== "..") out.push(segment);
    else if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
    else if (!absolute) out.push(segment); // above a relative reference's start: kept; above the root: dropped
  }
  return (absolute ? "/" : "") + out.join("/");
}

/** A URL scheme (`https:`, `kv:`), but not a Windows drive letter. */
const SCHEME = /^[a-z][a-z0-9+.-]+:/i;
