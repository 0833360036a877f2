/**
 * Globs over canonical resources, compiled once at load.
 *
 * Matching follows picomatch with `dot: true` (a `*` also matches names starting with a dot:
 * a deny rule on `/prod/**` must cover `/prod/.env`), extglobs off and unbalanced brackets an
 * error. Two shapes that make up most policies skip the regular expression: a literal
 * (`/etc/passwd`) and a literal directory with `/**` (`/prod/**`: `/prod` and everything
 * below it). `**` on its own matches every resource, including the empty one.
 */
import picomatch from "picomatch";

const OPTIONS: picomatch.PicomatchOptions = { dot: true, strictBrackets: true, noextglob: true, windows: false };
const SPECIAL = /[*?[\]{}()!+@\\]/;

/** A compiled list of globs: matches when any of them does. */
export interface GlobMatcher {
  test(value: string): boolean;
  /** The globs as written. */
  readonly globs: readonly string[];
  /**
   * Path segments ("/"-separated) that every matching value starts with: the index key.
   * Empty when the globs share no literal leading segment.
   */
  readonly key: readonly string[];
}

/**
 * A literal string as a glob that matches only itself (its special characters escaped).
 *
 * @example literalGlob("/ws/a[1].txt") // "/ws/a\\[1\\].txt"
 */
export function literalGlob(text: string): string {
  return text.replace(/[*?[\]{}()!+@\\]/g, (c) => (c === "?" ? "[?]" : "\\" + c));
}

/**
 * A problem with one glob, or undefined when picomatch accepts it.
 *
 * @example globProblem("/a/[b") // 'invalid glob: Missing closing: "]" ...'
 */
export function globProblem(glob: string): string | undefined {
  if (glob === "") return "a glob must not be empty";
  if (glob.includes("\0")) return "a glob must not contain a NUL byte";
  try {
    picomatch.makeRe(glob, OPTIONS);
    return undefined;
  } catch (e) {
    return `invalid glob: ${(e as Error).message}`;
  }
}

/** The literal segments every match of `glob` starts with. */
function keyOf(glob: string): string[] {
  const special = glob.search(SPECIAL);
  if (special === -1) return glob.split("/");
  const parts = glob.slice(0, special).split("/");
  parts.pop(); // the last piece is partial (or empty): `/prod/**` also matches `/prod`
  return parts;
}

function commonPrefix(keys: string[][]): string[] {
  const [firstKey, ...rest] = keys;
  let n = firstKey.length;
  for (const key of rest) {
    let i = 0;
    while (i < n && i < key.length && key[i] === firstKey[i]) i++;
    n = i;
  }
  return firstKey.slice(0, n);
}

// Dot segments ("." and "..") never occur in canonical paths, but may in a URL's query string,
// where picomatch would refuse to let `*` match them: a deny rule must not be dodged that way.
const DOT_SEGMENT = /(^|\/)\.\.?(?=\/|$)/g;

/**
 * The longest literal run that every match of `glob` must contain, or "". Text inside braces,
 * brackets and parentheses is skipped, and a slash next to `**` is dropped (`**/` and `/**` can
 * match nothing).
 */
export function requiredLiteral(glob: string): string {
  let best = "";
  let run = "";
  let depth = 0;
  const flush = (next: string) => {
    if (run.endsWith("/") && next === "**") run = run.slice(0, -1);
    if (run.length > best.length) best = run;
    run = "";
  };
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "{" || c === "[" || c === "(") {
      flush(glob.slice(i, i + 2));
      depth++;
    } else if (c === "}" || c === "]" || c === ")") depth = Math.max(0, depth - 1);
    else if (depth > 0) continue;
    else if (SPECIAL.test(c)) {
      flush(glob.slice(i, i + 2));
      if (c === "\\") i++;
      // a run right after ** may start with an optional slash
      if (glob.slice(i - 1, i + 1) === "**" || (c === "*" && glob[i + 1] === "*")) {
        if (glob[i + 1] === "*") i++;
        if (glob[i + 1] === "/") i++;
      }
    } else run += c;
  }
  flush("");
  return best;
}

function testOne(glob: string, nocase: boolean): (value: string) => boolean {
  if (glob === "**") return () => true;
  if (!nocase && !SPECIAL.test(glob)) return (value) => value === glob;
  if (!nocase && glob.endsWith("/**") && !SPECIAL.test(glob.slice(0, -3))) {
    const dir = glob.slice(0, -3);
    const below = dir + "/";
    return (value) => value === dir || value.startsWith(below);
  }
  const re = picomatch.makeRe(glob, { ...OPTIONS, nocase });
  const literal = nocase ? "" : requiredLiteral(glob);
  return (value) => {
    if (literal !== "" && !value.includes(literal)) return false;
    if (value.includes("/.")) value = value.replace(DOT_SEGMENT, "$1\u0001");
    return re.test(value);
  };
}

/**
 * Compiles globs (already checked with globProblem) into one matcher.
 *
 * @example compileGlobs(["/prod/**"]).test("/prod/db/x") === true
 */
export function compileGlobs(globs: readonly string[], options: { nocase?: boolean } = {}): GlobMatcher {
  const nocase = options.nocase ?? false;
  const tests = globs.map((g) => testOne(g, nocase));
  const key = nocase || globs.includes("**") ? [] : commonPrefix(globs.map(keyOf));
  const test =
    tests.length === 1
      ? tests[0]
      : (value: string) => {
          for (let i = 0; i < tests.length; i++) if (tests[i](value)) return true;
          return false;
        };
  return { test, globs: Object.freeze([...globs]), key: Object.freeze(key) };
}
