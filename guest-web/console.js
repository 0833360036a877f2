/**
 * console: every line goes to the log as a `log.write` kernel call (decided by the policy like
 * any log call) at the method's level. It never throws: a line the policy denies is dropped
 * (the kernel records the denial).
 */

/** The longest line written; the rest is cut with a note. */
const MAX_LINE = 8192;
const MAX_DEPTH = 4;
const MAX_ITEMS = 100;

function describeObject(value, depth, seen) {
  if (seen.has(value)) return "[Circular]";
  if (depth > MAX_DEPTH) return Array.isArray(value) ? "[Array]" : "[Object]";
  seen.add(value);
  try {
    if (value instanceof Error) {
      const head = `${value.name ?? "Error"}: ${value.message ?? ""}`;
      const stack = typeof value.stack === "string" && value.stack ? `\n${value.stack}` : "";
      const cause = value.cause !== undefined ? ` [cause: ${inspect(value.cause, depth + 1, seen)}]` : "";
      return head + stack.replace(/\n$/, "") + cause;
    }
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? "Invalid Date" : value.toISOString();
    if (value instanceof RegExp) return String(value);
    if (Array.isArray(value)) {
      const items = value.slice(0, MAX_ITEMS).map((v) => inspect(v, depth + 1, seen));
      if (value.length > MAX_ITEMS) items.push(`... ${value.length - MAX_ITEMS} more items`);
      return `[ ${items.join(", ")} ]`;
    }
    if (value instanceof Map) {
      const items = [...value].slice(0, MAX_ITEMS).map(([k, v]) => `${inspect(k, depth + 1, seen)} => ${inspect(v, depth + 1, seen)}`);
      return `Map(${value.size}) { ${items.join(", ")} }`;
    }
    if (value instanceof Set) {
      const items = [...value].slice(0, MAX_ITEMS).map((v) => inspect(v, depth + 1, seen));
      return `Set(${value.size}) { ${items.join(", ")} }`;
    }
    if (ArrayBuffer.isView(value)) {
      const name = value.constructor?.name ?? "TypedArray";
      const items = Array.from(value instanceof DataView ? new Uint8Array(value.buffer) : value).slice(0, MAX_ITEMS);
      return `${name}(${value.length ?? value.byteLength}) [ ${items.join(", ")}${(value.length ?? 0) > MAX_ITEMS ? ", ..." : ""} ]`;
    }
    const keys = Object.keys(value);
    const name = typeof value.constructor === "function" && value.constructor.name && value.constructor.name !== "Object" ? value.constructor.name + " " : "";
    const items = keys.slice(0, MAX_ITEMS).map((k) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k)}: ${inspect(value[k], depth + 1, seen)}`);
    if (keys.length > MAX_ITEMS) items.push(`... ${keys.length - MAX_ITEMS} more`);
    return items.length === 0 ? `${name}{}` : `${name}{ ${items.join(", ")} }`;
  } finally {
    seen.delete(value);
  }
}

/** A value as text, as Node's console shows it (nested strings quoted), never throwing. */
function inspect(value, depth = 0, seen = new Set()) {
  try {
    switch (typeof value) {
      case "string": return depth === 0 ? value : `'${value}'`;
      case "number": return Object.is(value, -0) ? "-0" : String(value);
      case "bigint": return `${value}n`;
      case "symbol": return value.toString();
      case "undefined": return "undefined";
      case "boolean": return String(value);
      case "function": return `[Function: ${value.name || "(anonymous)"}]`;
      default: return value === null ? "null" : describeObject(value, depth, seen);
    }
  } catch {
    return "[object that cannot be shown]";
  }
}

function formatWith(first, args) {
  let i = 0;
  const text = first.replace(/%[sdifoOjc%]/g, (spec) => {
    if (spec === "%%") return "%";
    if (i >= args.length) return spec;
    const arg = args[i++];
    switch (spec) {
      case "%s": return typeof arg === "string" ? arg : inspect(arg, 1);
      case "%d": case "%i": {
        if (typeof arg === "bigint") return `${arg}n`;
        const n = Number(arg);
        return String(spec === "%i" || Number.isInteger(n) ? Math.trunc(n) : n);
      }
      case "%f": return String(Number(arg));
      case "%j": try { return JSON.stringify(arg); } catch { return "[Circular]"; }
      case "%c": return "";
      default: return inspect(arg, 1);
    }
  });
  return [text, ...args.slice(i).map((a) => inspect(a))].join(" ");
}

/** The line `console.log(...args)` writes. */
export function format(args) {
  try {
    if (args.length === 0) return "";
    const line = typeof args[0] === "string" ? formatWith(args[0], args.slice(1)) : args.map((a) => inspect(a)).join(" ");
    return line.length > MAX_LINE ? line.slice(0, MAX_LINE) + `… (${line.length - MAX_LINE} more characters)` : line;
  } catch {
    return "[a line that cannot be shown]";
  }
}

function table(data) {
  if (data === null || typeof data !== "object") return format([data]);
  const rows = Object.keys(data);
  const columns = [...new Set(rows.flatMap((r) => (data[r] !== null && typeof data[r] === "object" ? Object.keys(data[r]) : ["Values"])))];
  const cell = (r, c) => {
    const v = data[r];
    if (v === null || typeof v !== "object") return c === "Values" ? inspect(v, 1) : "";
    return c in v ? inspect(v[c], 1) : "";
  };
  const header = ["(index)", ...columns];
  const body = rows.map((r) => [r, ...columns.map((c) => cell(r, c))]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) => "│ " + cells.map((c, i) => c.padEnd(widths[i])).join(" │ ") + " │";
  return [line(header), ...body.map(line)].join("\n");
}

export function create(need, kernel) {
  const write = (level, line) => {
    try {
      kernel.logWrite(level, line, []);
    } catch {
      // denied (the kernel logged the denial) or refused: a console line never fails the agent
    }
  };
  const counts = new Map();
  const timers = new Map();
  let indent = "";
  const emit = (level) => (...args) => write(level, indent + format(args));
  const console = {
    log: emit("info"),
    info: emit("info"),
    debug: emit("debug"),
    warn: emit("warn"),
    error: emit("error"),
    trace: (...args) => write("debug", indent + "Trace: " + format(args) + "\n" + (new Error().stack ?? "").split("\n").slice(1).join("\n")),
    dir: (value) => write("info", indent + inspect(value, 1)),
    dirxml: (...args) => write("info", indent + format(args)),
    table: (data) => write("info", table(data)),
    assert: (condition, ...args) => {
      if (!condition) write("error", indent + "Assertion failed" + (args.length ? ": " + format(args) : ""));
    },
    count: (label = "default") => {
      const n = (counts.get(String(label)) ?? 0) + 1;
      counts.set(String(label), n);
      write("info", `${indent}${label}: ${n}`);
    },
    countReset: (label = "default") => counts.delete(String(label)),
    group: (...args) => {
      if (args.length) write("info", indent + format(args));
      indent += "  ";
    },
    groupEnd: () => { indent = indent.slice(2); },
    time: (label = "default") => timers.set(String(label), Date.now()),
    timeLog: (label = "default", ...args) => {
      const start = timers.get(String(label));
      if (start !== undefined) write("info", `${indent}${label}: ${Date.now() - start}ms${args.length ? " " + format(args) : ""}`);
    },
    timeEnd: (label = "default") => {
      const start = timers.get(String(label));
      timers.delete(String(label));
      if (start !== undefined) write("info", `${indent}${label}: ${Date.now() - start}ms`);
    },
  };
  console.groupCollapsed = console.group;
  // Whatever the arguments (a Symbol label, a throwing getter), a console method never throws.
  for (const [name, method] of Object.entries(console)) {
    console[name] = {
      [name](...args) {
        try {
          method(...args);
        } catch {
          // dropped
        }
      },
    }[name];
  }
  return { console };
}
