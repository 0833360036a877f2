/**
 * Reading a policy file (Node only). Parsing text and objects is parse.ts's, which every host
 * shares; its names are re-exported here for the modules that read files.
 */
import { readFileSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { parseYamlText, unreadableSource, type Source } from "../../../policy/parse.js";

export { looksLikePath, objectSource, parseYamlText, type FieldPath, type Location, type Source } from "../../../policy/parse.js";

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
    return unreadableSource(file, dirname(absolute), `cannot read the policy file: ${why}`, absolute);
  }
  return { ...parseYamlText(text, file, dirname(absolute)), path: absolute };
}

/** The name a policy gets when it has no `name:`: its file's base name without extension. */
export function nameFromFile(file: string): string {
  return file.startsWith("<") ? file : basename(file).replace(/\.(ya?ml|json)$/i, "");
}
