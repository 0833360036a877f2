/**
 * Parsing a policy source (YAML text or a plain object) into plain data, keeping enough of the
 * YAML tree to say on which line and column a field was written. No file system: reading files
 * is source.ts's (Node only).
 */
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
  /**
   * The identity of a source that was read rather than given: the absolute file path on Node,
   * the reference given to the host's `readPolicy` elsewhere.
   */
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
 * Parses YAML (or JSON) text, keeping positions. Duplicate keys are errors.
 *
 * @example parseYamlText("default: allow\n", "<inline>", "").value // { default: "allow" }
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

/**
 * A source that could not be read: `message` says why, as a problem of `file`.
 *
 * @example unreadableSource("team.yaml", "", "cannot read the policy file: no such file").problems.length === 1
 */
export function unreadableSource(file: string, dir: string, message: string, path?: string): Source {
  return { value: undefined, file, ...(path === undefined ? {} : { path }), dir, locate: () => undefined, problems: [{ file, message }] };
}

/**
 * The name a policy gets when it has no `name:`: the base name of its file (`/`-separated)
 * without extension. Node's loader uses node:path's basename instead (see source.ts).
 *
 * @example nameFromRef("policies/team.yaml") === "team"
 */
export function nameFromRef(file: string): string {
  if (file.startsWith("<")) return file;
  const trimmed = file.replace(/\/+$/, "");
  return trimmed.slice(trimmed.lastIndexOf("/") + 1).replace(/\.(ya?ml|json)$/i, "");
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
