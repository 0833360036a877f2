/**
 * Reading a policy source (a file, YAML text or a plain object) into plain data, keeping
 * enough of the YAML tree to say on which line and column a field was written.
 */
import { readFileSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { LineCounter, isMap, isSeq, isScalar, parseDocument, type Document, type Node } from "yaml";
import type { PolicyProblem } from "../errors.js";

/** The path of a field inside a policy, e.g. ["rules", 2, "effect"]. */
export type FieldPath = readonly (string | number)[];

export interface Location {
  line: number;
  column: number;
}

/** A policy source read into plain data, with a way back to positions in its text. */
export interface Source {
  /** The parsed value (undefined when the text did not parse). */
  value: unknown;
  /** The file name used in messages: a path, or "<inline>". */
  file: string;
  /** The absolute file path, when the source is a file. */
  path?: string;
  /** Where relative `extends` entries are resolved from. */
  dir: string;
  /** The position of a field's value, or of its key with `onKey`, when known. */
  locate(field: FieldPath, onKey?: boolean): Location | undefined;
  /** Syntax problems (the YAML did not parse, the file could not be read). */
  problems: PolicyProblem[];
}

/** Whether a string names a policy file rather than holding YAML text. */
export function looksLikePath(text: string): boolean {
  return !text.includes("\n") && /\.(ya?ml|json)$/i.test(text.trim());
}

/**
 * Reads a file and parses it.
 *
 * @example readPolicyFile("policies/strict.yaml").value // { version: 1, name: "strict", ... }
 */
export function readPolicyFile(path: string, displayName?: string): Source {
  const absolute = resolve(path);
  const file = displayName ?? path;
  let text: string;
  try {
    text = readFileSync(absolute, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : (e as Error).message;
    return { value: undefined, file, path: absolute, dir: dirname(absolute), locate: () => undefined, problems: [{ file, message: `cannot read the policy file: ${why}` }] };
  }
  return { ...parseYamlText(text, file, dirname(absolute)), path: absolute };
}

/**
 * Parses YAML (or JSON) text, keeping positions. Duplicate keys are errors.
 *
 * @example parseYamlText("default: allow\n", "<inline>", process.cwd()).value // { default: "allow" }
 */
export function parseYamlText(text: string, file: string, dir: string): Source {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true });
  const at = (offset: number): Location => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  const problems: PolicyProblem[] = doc.errors.map((e) => ({ file, ...at(e.pos[0]), message: `invalid YAML: ${firstLine(e.message)}` }));
  let value: unknown;
  if (problems.length === 0) {
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      problems.push({ file, message: `invalid YAML: ${(e as Error).message}` });
    }
  }
  return { value, file, dir, locate: (field, onKey) => locateIn(doc, field, onKey, at), problems };
}

/** A plain object given directly: no positions. */
export function objectSource(value: object, file: string, dir: string): Source {
  return { value, file, dir, locate: () => undefined, problems: [] };
}

function firstLine(message: string): string {
  return message.split("\n")[0];
}

function locateIn(doc: Document, field: FieldPath, onKey: boolean | undefined, at: (offset: number) => Location): Location | undefined {
  let node: Node | null | undefined = doc.contents;
  let keyNode: Node | undefined;
  for (const step of field) {
    keyNode = undefined;
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(step));
      if (!pair) break;
      keyNode = pair.key as Node;
      node = pair.value as Node | null;
    } else if (isSeq(node) && typeof step === "number" && node.items[step]) {
      node = node.items[step] as Node;
    } else break;
  }
  const target = onKey && keyNode ? keyNode : (node ?? keyNode);
  return target?.range ? at(target.range[0]) : undefined;
}


/** The name a policy gets when it has no `name:`: its file's base name without extension. */
export function nameFromFile(file: string): string {
  return file.startsWith("<") ? file : basename(file).replace(/\.(ya?ml|json)$/i, "");
}
