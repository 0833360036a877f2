/**
 * Rejects regular expressions that can backtrack catastrophically, before a policy loads.
 *
 * A policy's `pattern` runs on every SQL statement an agent sends, and the agent chooses the
 * statement: a pattern with exponential backtracking would let it freeze the kernel. This is a
 * small parser of JavaScript's (non-unicode) pattern syntax that flags the shapes known to
 * backtrack exponentially: a variable-length repetition inside another repetition (`(a+)+`,
 * `(a*)*`, `(.*)*`, `(a{1,3})+`), a repeated alternation whose branches can start alike
 * (`(a|a)*`, `(a|ab)+`), adjacent repetitions that can match the same characters (`\s*\s*`,
 * `.*.*`), and backreferences. It is conservative: it may reject a harmless pattern, never the
 * other way round for these shapes.
 */

/** The longest pattern accepted, in characters. */
export const MAX_PATTERN_LENGTH = 512;

/** What one atom can match: a set of characters described coarsely. */
type CharSet = { kind: "char"; char: string } | { kind: "class"; name: string } | { kind: "any" };

type Node =
  | { type: "atom"; set: CharSet }
  | { type: "assert" }
  | { type: "group"; alternatives: Node[][] }
  | { type: "repeat"; body: Node; min: number; max: number };

class Unsafe extends Error {}

/**
 * A message saying why `source` is unsafe, or undefined when it is accepted. The pattern must
 * already compile with `new RegExp(source, "i")`.
 *
 * @example regexProblem("(a+)+$") // "nested repetition ..."
 */
export function regexProblem(source: string): string | undefined {
  if (source.length > MAX_PATTERN_LENGTH) return `a pattern must be at most ${MAX_PATTERN_LENGTH} characters`;
  try {
    const parser = new Parser(source);
    const alternatives = parser.parseAlternatives();
    const root: Node = { type: "group", alternatives };
    const leading = alternatives.map((seq) => seq[0]).find((n) => n && n.type === "repeat" && n.max === Infinity && broad(n.body));
    if (leading) {
      return "a pattern must not start with an unbounded repetition of a class (like .* or \\s+): patterns match anywhere in the statement, so it adds nothing but work; leave it out";
    }
    check(root, false);
    return undefined;
  } catch (e) {
    if (e instanceof Unsafe) return e.message;
    throw e;
  }
}

function broad(node: Node): boolean {
  return node.type === "atom" && node.set.kind !== "char";
}

function check(node: Node, insideRepeat: boolean): void {
  if (node.type === "repeat") {
    const repeats = node.max > 1;
    if (insideRepeat && repeats && node.max !== node.min) {
      throw new Unsafe("nested repetition (a repeated group contains a variable repetition, like (a+)+): it can backtrack catastrophically");
    }
    if (repeats && node.body.type === "group") checkAlternation(node.body);
    check(node.body, insideRepeat || (repeats && variable(node.body)));
    return;
  }
  if (node.type === "group") {
    for (const seq of node.alternatives) {
      checkAdjacent(seq);
      for (const item of seq) check(item, insideRepeat);
    }
  }
}

/** Whether a node can match strings of different lengths. */
function variable(node: Node): boolean {
  if (node.type === "repeat") return node.max !== node.min || variable(node.body);
  if (node.type === "group") {
    if (node.alternatives.length > 1) return true;
    return node.alternatives.some((seq) => seq.some(variable));
  }
  return false;
}

function checkAlternation(group: Extract<Node, { type: "group" }>): void {
  if (group.alternatives.length < 2) return;
  const firsts = group.alternatives.map((seq) => first(seq));
  for (let i = 0; i < firsts.length; i++) {
    for (let j = i + 1; j < firsts.length; j++) {
      if (overlap(firsts[i], firsts[j])) {
        throw new Unsafe("a repeated alternation whose branches can match the same text (like (a|ab)*): it can backtrack catastrophically");
      }
    }
  }
}

function checkAdjacent(seq: Node[]): void {
  for (let i = 1; i < seq.length; i++) {
    const a = seq[i - 1];
    const b = seq[i];
    if (a.type === "repeat" && b.type === "repeat" && a.max === Infinity && b.max === Infinity && overlap(first([a.body]), first([b.body]))) {
      throw new Unsafe("two adjacent unbounded repetitions that can match the same characters (like \\s*\\s* or .*.*): they backtrack badly");
    }
  }
}

/** The set of characters a sequence can start with, or undefined for "anything / unknown". */
function first(seq: Node[]): CharSet | undefined {
  for (const node of seq) {
    if (node.type === "assert") continue;
    if (node.type === "atom") return node.set;
    if (node.type === "repeat") return node.min === 0 ? undefined : first([node.body]);
    if (node.alternatives.length !== 1) return undefined;
    return first(node.alternatives[0]);
  }
  return undefined; // an empty branch: it overlaps with everything
}

// Characters that stand for a class's members when testing whether two classes share one.
const PROBES = Array.from({ length: 128 }, (_, i) => String.fromCharCode(i)).concat(["\u00a0", "\u2028", "\u00e9", "\u0660"]);

function members(set: CharSet): ((c: string) => boolean) | undefined {
  if (set.kind === "char") return (c) => c.toLowerCase() === set.char.toLowerCase();
  if (set.kind === "class" && /^[dDwWsS]$/.test(set.name)) {
    const re = new RegExp(`\\${set.name}`, "i");
    return (c) => re.test(c);
  }
  return undefined; // "." or a bracket class: assume it can match anything
}

function overlap(a: CharSet | undefined, b: CharSet | undefined): boolean {
  if (!a || !b) return true;
  if (a.kind === "char" && b.kind === "char") return a.char.toLowerCase() === b.char.toLowerCase();
  const inA = members(a);
  const inB = members(b);
  if (!inA || !inB) return true;
  const extra = a.kind === "char" ? [a.char] : b.kind === "char" ? [b.char] : [];
  return [...PROBES, ...extra].some((c) => inA(c) && inB(c));
}

class Parser {
  private i = 0;
  constructor(private readonly src: string) {}

  parseAlternatives(): Node[][] {
    const alternatives: Node[][] = [this.parseSequence()];
    while (this.src[this.i] === "|") {
      this.i++;
      alternatives.push(this.parseSequence());
    }
    return alternatives;
  }

  private parseSequence(): Node[] {
    const seq: Node[] = [];
    while (this.i < this.src.length && this.src[this.i] !== "|" && this.src[this.i] !== ")") {
      const atom = this.parseAtom();
      seq.push(this.parseQuantifier(atom));
    }
    return seq;
  }

  private parseAtom(): Node {
    const c = this.src[this.i++];
    if (c === "(") {
      if (this.src.startsWith("?<=", this.i) || this.src.startsWith("?<!", this.i)) this.i += 3;
      else if (this.src.startsWith("?<", this.i)) this.i = this.src.indexOf(">", this.i) + 1;
      else if (this.src[this.i] === "?") this.i += 2;
      const alternatives = this.parseAlternatives();
      this.i++; // ")"
      return { type: "group", alternatives };
    }
    if (c === "[") {
      while (this.i < this.src.length && this.src[this.i] !== "]") this.i += this.src[this.i] === "\\" ? 2 : 1;
      this.i++;
      return { type: "atom", set: { kind: "class", name: "[...]" } };
    }
    if (c === "\\") return this.parseEscape();
    if (c === ".") return { type: "atom", set: { kind: "any" } };
    if (c === "^" || c === "$") return { type: "assert" };
    return { type: "atom", set: { kind: "char", char: c } };
  }

  private parseEscape(): Node {
    const c = this.src[this.i++];
    if (/[1-9]/.test(c) || (c === "k" && this.src[this.i] === "<")) {
      throw new Unsafe("backreferences (\\1, \\k<name>) are not allowed: they can backtrack catastrophically");
    }
    if (c === "b" || c === "B") return { type: "assert" };
    if (/[dDwWsS]/.test(c)) return { type: "atom", set: { kind: "class", name: c } };
    if (/[xucpP0]/.test(c)) return { type: "atom", set: { kind: "any" } };
    return { type: "atom", set: { kind: "char", char: c } };
  }

  private parseQuantifier(body: Node): Node {
    const c = this.src[this.i];
    let min: number;
    let max: number;
    if (c === "*") [min, max] = [0, Infinity];
    else if (c === "+") [min, max] = [1, Infinity];
    else if (c === "?") [min, max] = [0, 1];
    else if (c === "{") {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.i));
      if (!m) return body;
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === "" ? Infinity : Number(m[3]);
      this.i += m[0].length - 1;
    } else return body;
    this.i++;
    if (this.src[this.i] === "?") this.i++;
    if (body.type === "assert") return body;
    return { type: "repeat", body, min, max };
  }
}
