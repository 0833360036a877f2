/**
 * `agent-os inspect <agent.wasm> [--json]`: a component's world, imports, exports, size and
 * content hash, and whether the kernel would load it.
 * Exit codes: 0 it fits the kernel, 1 it does not (or is not a component), 2 usage error.
 */
import { readFile } from "node:fs/promises";
import { inspectComponent } from "../engines/component/inspect.js";
import { AgentLoadError, UsageError } from "../errors.js";
import { formatSize } from "./build.js";
import { formatFlags, parseArgs, type FlagSpec } from "./args.js";
import { escapeLines, escapeText, safeJson } from "./escape.js";
import { EXIT, type Subcommand } from "./io.js";

const FLAGS: Record<string, FlagSpec> = {
  json: { type: "boolean", help: "print the report as JSON" },
  help: { type: "boolean", short: "h", help: "show this help" },
};

export const INSPECT_HELP = `Usage: agent-os inspect <agent.wasm> [--json]

Describes a WebAssembly component without running it: its world (as WIT), imports, exports,
size, sha256 content hash (the code hash the episodic log records), the tools that produced it,
and whether the kernel loads it (only agentos:kernel/* imports, and run(task) exported).

Options:
${formatFlags(FLAGS)}

Exit codes: 0 the kernel would load it, 1 it would not (or it is not a component), 2 usage error.
`;

export const inspectCommand: Subcommand = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, FLAGS, "inspect");
  if (flags.help) {
    io.stdout(INSPECT_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError("inspect: expected exactly one component file (see agent-os inspect --help)");
  const [file] = positionals;
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch (error) {
    throw new UsageError(`inspect: ${file}: ${(error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : "cannot read it"}`);
  }
  let report;
  try {
    report = await inspectComponent(bytes, file);
  } catch (error) {
    if (!(error instanceof AgentLoadError)) throw error;
    io.stderr(`agent-os inspect: ${escapeLines(error.message)}\n`);
    return EXIT.failure;
  }
  if (flags.json) {
    io.stdout(safeJson({ file, ...report }, 2) + "\n");
  } else {
    // Names, producers and the WIT come from the component's own bytes: untrusted text.
    const list = (items: string[]) => (items.length ? items.map((i) => `  ${escapeText(i)}`).join("\n") : "  (none)");
    io.stdout(
      [
        `file:      ${escapeText(file)}`,
        `size:      ${formatSize(report.size)} (${report.size} bytes)`,
        `sha256:    ${report.hash}`,
        `producers: ${escapeText(report.producers.join(", ")) || "(none recorded)"}`,
        `kernel:    ${report.fits.ok ? "fits the agent world (agentos:kernel@0.1.0)" : `does not fit: ${escapeText(report.fits.reason)}`}`,
        `imports:\n${list(report.imports)}`,
        `exports:\n${list(report.exports)}`,
        `world:\n${escapeLines(report.wit).replace(/^/gm, "  ")}`,
        "",
      ].join("\n"),
    );
  }
  return report.fits.ok ? EXIT.ok : EXIT.failure;
};
