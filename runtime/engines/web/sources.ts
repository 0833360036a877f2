/**
 * The source of each Web group for the QuickJS engine: guest-web/<file> and the packages it
 * imports, bundled by esbuild into one expression whose value has `create(need, kernel)`.
 *
 * A group is bundled the first time a guest in this thread needs it, and kept for the life of
 * the thread (and in a file beside the compiled kernel, keyed by the sha256 of everything that
 * went into it, so that the next process reads it instead of bundling).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { WEB_GROUPS } from "./groups.js";

/** The global the bundle assigns inside its own function scope. */
const RESULT = "__agentos_web_group";

/** guest-web/, found from this file whether it runs from the sources or from dist/. */
export const GUEST_WEB_DIR = findGuestWeb();

function findGuestWeb(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, "guest-web");
    if (existsSync(join(candidate, "fetch.js"))) return candidate;
    dir = dirname(dir);
  }
  throw new Error("agent-os: guest-web/ is missing from the installation");
}

const CACHE_DIR = join(dirname(fileURLToPath(import.meta.url)), ".web-cache");
const made = new Map<string, string>();

/**
 * The source of a group, as a script whose completion value has `create(need, kernel)`.
 * @example webGroupSource("url") // "(() => { ... })()"
 */
export function webGroupSource(group: string): string {
  const known = made.get(group);
  if (known !== undefined) return known;
  const spec = WEB_GROUPS[group];
  if (spec === undefined) throw new Error(`no Web group ${JSON.stringify(group)}`);
  const source = bundleGroup(spec.file);
  made.set(group, source);
  return source;
}

function bundleGroup(file: string): string {
  const key = cacheKey();
  const cached = join(CACHE_DIR, `${file.replace(/\.js$/, "")}-${key}.js`);
  try {
    return readFileSync(cached, "utf8");
  } catch {
    // not bundled yet
  }
  const source = bundleNow(file);
  try {
    mkdirSync(CACHE_DIR, { recursive: true });
    const tmp = `${cached}.${process.pid}.${Math.random().toString(16).slice(2)}.tmp`;
    writeFileSync(tmp, source);
    renameSync(tmp, cached);
  } catch {
    // a read-only installation: bundle again next time
  }
  return source;
}

let key: string | undefined;

/** sha256 of every guest-web file, the polyfill packages' versions and esbuild's. */
function cacheKey(): string {
  if (key !== undefined) return key;
  const hash = createHash("sha256");
  for (const file of readdirSync(GUEST_WEB_DIR).filter((f) => f.endsWith(".js")).sort()) {
    hash.update(file).update(readFileSync(join(GUEST_WEB_DIR, file)));
  }
  for (const pkg of ["esbuild", "whatwg-url", "web-streams-polyfill", "@ungap/structured-clone", "tr46", "webidl-conversions"]) {
    hash.update(pkg).update(packageVersion(pkg));
  }
  key = hash.digest("hex").slice(0, 32);
  return key;
}

function packageVersion(name: string): string {
  try {
    let dir = dirname(fileURLToPath(import.meta.resolve(name)));
    while (!existsSync(join(dir, "package.json"))) dir = dirname(dir);
    return (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "absent";
  }
}

function bundleNow(file: string): string {
  const esbuild = createRequire(import.meta.url)("esbuild") as typeof import("esbuild");
  const result = esbuild.buildSync({
    entryPoints: [join(GUEST_WEB_DIR, file)],
    bundle: true,
    write: false,
    format: "iife",
    globalName: RESULT,
    platform: "neutral",
    mainFields: ["module", "main"],
    target: "es2022",
    minify: true,
    charset: "utf8",
    legalComments: "none",
    logLevel: "silent",
    // whatwg-url's IDNA step, without tr46's mapping table (see guest-web/tr46-lite.js).
    alias: { tr46: join(GUEST_WEB_DIR, "tr46-lite.js") },
  });
  return `(() => {\n${result.outputFiles[0].text}\nreturn ${RESULT};\n})()`;
}

