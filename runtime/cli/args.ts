/**
 * A small, strict argument parser: every flag is declared, an unknown one is a usage error
 * (exit 2) that names it, and a repeated flag is collected only where it is declared as such.
 */
import { UsageError } from "../errors.js";

export interface FlagSpec {
  /** "string": takes a value; "boolean": takes none; "list": takes a value, may repeat. */
  type: "string" | "boolean" | "list";
  /** Shown in --help. */
  help: string;
  /** Placeholder in --help, e.g. "N". */
  value?: string;
}

export interface Parsed {
  flags: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export function parseArgs(argv: string[], spec: Record<string, FlagSpec>, command: string): Parsed {
  const flags: Parsed["flags"] = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("--")) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const flag = spec[name];
    if (!flag) {
      const known = Object.keys(spec).map((k) => `--${k}`).join(", ");
      throw new UsageError(`${command}: unknown option --${name} (options: ${known})`);
    }
    if (flag.type === "boolean") {
      if (eq !== -1) throw new UsageError(`${command}: --${name} takes no value`);
      flags[name] = true;
      continue;
    }
    let value: string | undefined = eq === -1 ? argv[++i] : arg.slice(eq + 1);
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

/** Formats the options of a command for --help. */
export function formatFlags(spec: Record<string, FlagSpec>): string {
  const rows = Object.entries(spec).map(([name, f]) => [`--${name}${f.type === "boolean" ? "" : ` ${f.value ?? "VALUE"}`}`, f.help]);
  const width = Math.max(...rows.map(([a]) => a.length));
  return rows.map(([a, b]) => `  ${a.padEnd(width)}  ${b}`).join("\n");
}
