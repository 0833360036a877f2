/**
 * A real agent project on disk for the bundling tests: an agent of several files, a TypeScript
 * agent, a package of its own in node_modules (CommonJS, changeable), the real `yaml` and
 * `picomatch` packages (linked from the repository's node_modules), and hostile agents.
 */
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir } from "../kernel/helpers.js";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** The task the multi-file agents are given, and what they answer. */
export const TASK = "name: world\ncount: 2\n";
export const OUTPUT = "HELLO WORLD X2!";
export const TS_OUTPUT = "3 of 4 match *.md: A.MD, B.MD, NOTES.MD";

export interface Project {
  path: string;
  /** The multi-file agent: a relative import, `yaml`, and the project's own package `tiny-dep`. */
  agent: string;
  /** The TypeScript agent: a TypeScript module of its own (imported as .js) and `picomatch`. */
  tsAgent: string;
  /** Writes a file of the project (directories made as needed); returns its path. */
  file(name: string, text: string): string;
  remove(): void;
}

/** Makes a fresh project in a temporary directory. */
export function makeProject(prefix = "agent-os-bundle-"): Project {
  const dir = tempDir(prefix);
  const file = (name: string, text: string) => {
    const path = join(dir.path, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    return path;
  };
  mkdirSync(join(dir.path, "node_modules"));
  for (const pkg of ["yaml", "picomatch"]) symlinkSync(join(ROOT, "node_modules", pkg), join(dir.path, "node_modules", pkg));
  file("node_modules/tiny-dep/package.json", JSON.stringify({ name: "tiny-dep", version: "1.0.0", main: "index.js" }));
  file("node_modules/tiny-dep/index.js", "module.exports = function hello(name) { return 'hello ' + name; };\n");
  file("lib/shout.js", 'export const shout = (text) => text.toUpperCase() + "!";\n');
  const agent = file(
    "agent.js",
    `import { log } from "agent-os/guest";
import { parse } from "yaml";
import hello from "tiny-dep";
import { shout } from "./lib/shout.js";

export async function run(task) {
  const doc = parse(task);
  await log.info("parsed", { keys: Object.keys(doc).join(",") });
  return shout(hello(doc.name) + " x" + doc.count);
}
`,
  );
  file(
    "ts/matcher.ts",
    `import picomatch from "picomatch";

export interface Matched { pattern: string; names: string[]; total: number }

export function matching(pattern: string, names: readonly string[]): Matched {
  const isMatch = picomatch(pattern, { windows: false });
  return { pattern, names: names.filter((n) => isMatch(n)), total: names.length };
}
`,
  );
  const tsAgent = file(
    "ts/agent.ts",
    `import { log } from "agent-os/guest";
import { matching, type Matched } from "./matcher.js";

const describe = (m: Matched): string => \`\${m.names.length} of \${m.total} match \${m.pattern}: \${m.names.join(", ").toUpperCase()}\`;

export async function run(task: string): Promise<string> {
  const result: Matched = matching("*.md", task.split(" "));
  await log.info("matched", { count: result.names.length });
  return describe(result);
}
`,
  );
  return { path: dir.path, agent, tsAgent, file, remove: dir.remove };
}
