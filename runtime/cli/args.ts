/**
 * A small, strict argument parser shared by every subcommand: every flag is declared (and so
 * documented by --help), an unknown one is a usage error (exit 2) that names it, a flag given
 * twice is an error unless it is declared repeatable, and plain numbers are left to the flag's
 * own parser.
 */
import { UsageError } from "../errors.js";

export interface FlagSpec {
  /** "string": takes a value; "boolean": takes none; "list": takes a value, may repeat. */
  type: "string" | "boolean" | "list";
  /** Shown in --help. */
  help: string;
  /** Placeholder in --help, e.g. "N". */
  value?: string;
  /** A one-letter alias, e.g. "o" for -o. */
  short?: string;
}

export interface Parsed {
  flags: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/**
 * Parses `argv` against `spec`. `--name value`, `--name=value`, `-x value` (declared short
 * aliases) and `--` (the rest are positionals) are understood.
 *
 * @example parseArgs(["a.js", "--fuel", "10", "-h"], { fuel: { type: "string", help: "" }, help: { type: "boolean", short: "h", help: "" } }, "run")
 * @throws UsageError naming an unknown flag, a missing value, or a flag given twice.
 */
export function parseArgs(argv: string[], spec: Record<string, FlagSpec>, command: string): Parsed {
  const flags: Parsed["flags"] = Object.create(null) as Parsed["flags"];
  const positionals: string[] = [];
  const shorts = new Map<string, string>(Object.entries(spec).flatMap(([name, f]) => (f.short ? [[`-${f.short}`, name] as [string, string]] : [])));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    const short = shorts.get(arg);
    if (!arg.startsWith("--") && short === undefined) {
      if (/^-[A-Za-z]$/.test(arg)) throw new UsageError(`${command}: unknown option ${arg} (see agent-os ${command} --help)`);
      positionals.push(arg);
      continue;
    }
    const eq = short === undefined ? arg.indexOf("=") : -1;
    const name = short ?? arg.slice(2, eq === -1 ? undefined : eq);
    const flag = Object.hasOwn(spec, name) ? spec[name] : undefined;
    if (!flag) {
      const known = Object.keys(spec).map((k) => `--${k}`).join(", ");
      throw new UsageError(`${command}: unknown option --${name} (options: ${known})`);
    }
    if (flag.type === "boolean") {
      if (eq !== -1) throw new UsageError(`${command}: --${name} takes no value`);
      flags[name] = true;
      continue;
    }
    const value: string | undefined = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined) throw new UsageError(`${command}: --${name} needs a value`);
    if (flag.type === "list") {
      const list = (flags[name] as string[] | undefined) ?? [];
      list.push(value);
      flags[name] = list;
    } else {
      if (flags[name] !== undefined) throw new UsageError(`${command}: --${name} is given twice`);
      flags[name] = value;
    }
  }
  return { flags, positionals };
}

/** Formats the options of a command for --help, one line each. */
export function formatFlags(spec: Record<string, FlagSpec>): string {
  const rows = Object.entries(spec).map(([name, f]) => [
    `${f.short ? `-${f.short}, ` : ""}--${name}${f.type === "boolean" ? "" : ` ${f.value ?? "VALUE"}`}`,
    f.help,
  ]);
  const width = Math.max(...rows.map(([a]) => a.length));
  return rows.map(([a, b]) => `  ${a.padEnd(width)}  ${b}`).join("\n");
}
