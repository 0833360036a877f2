/**
 * `agent-os build <agent.js|agent.ts> -o <agent.wasm> [--quiet] [--no-cache]`: builds an agent
 * into a WebAssembly component of the kernel's `agent` world.
 * Exit codes: 0 built, 1 the agent does not build, 2 usage error.
 */
import { writeFile } from "node:fs/promises";
import { buildComponent, type BuildStep } from "../engines/component/build.js";
import { AgentLoadError, UsageError } from "../errors.js";
import { formatFlags, parseArgs, type FlagSpec } from "./args.js";
import { escapeLines } from "./escape.js";
import { EXIT, type Subcommand } from "./io.js";

const FLAGS: Record<string, FlagSpec> = {
  output: { type: "string", short: "o", value: "FILE", help: "where to write the component" },
  quiet: { type: "boolean", help: "print nothing but errors (also the default when stdout is not a terminal)" },
  cache: { type: "string", value: "DIR", help: "the build cache (default .agent-os/cache)" },
  "no-cache": { type: "boolean", help: "build from scratch and keep nothing" },
  help: { type: "boolean", short: "h", help: "show this help" },
};

export const BUILD_HELP = `Usage: agent-os build <agent.js|agent.ts> -o <agent.wasm> [options]

Bundles an agent (an ES module exporting run(task), JavaScript or TypeScript) with the guest
SDK into one module, and componentizes it against the "agent" world of wit/kernel.wit with
every WASI feature disabled: the component imports nothing but agentos:kernel/*. Its clock and
randomness (Date, Math.random, crypto.getRandomValues, performance.now) are the kernel's.

Options:
${formatFlags(FLAGS)}

An agent may bundle files of its own directory and packages from node_modules; Node built-ins
and URLs are refused. Its top-level code runs at build time (the snapshot), where no host call
can be made. Building takes seconds (about 770 MB of memory); an unchanged agent is taken from
the cache.

Exit codes: 0 built, 1 the agent does not build, 2 usage error.

Example:
  agent-os build examples/hello/agent.js -o hello.wasm && agent-os run hello.wasm --task world
`;

const STEPS: Record<BuildStep, string> = {
  bundling: "bundling the agent and the guest SDK",
  componentizing: "componentizing (StarlingMonkey, WASI disabled)",
  cached: "unchanged since the last build: taken from the cache",
  done: "done",
};

export const buildCommand: Subcommand = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, FLAGS, "build");
  if (flags.help) {
    io.stdout(BUILD_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError("build: expected exactly one agent source file (see agent-os build --help)");
  const output = flags.output as string | undefined;
  if (!output) throw new UsageError("build: -o <agent.wasm> is required");
  if (flags.cache !== undefined && flags["no-cache"]) throw new UsageError("build: --cache and --no-cache cannot go together");
  const [entry] = positionals;
  const verbose = io.isTTY && !flags.quiet;
  const say = (text: string) => verbose && io.stderr(`agent-os build: ${text}\n`);
  try {
    const built = await buildComponent(entry, {
      cache: flags["no-cache"] ? false : { dir: (flags.cache as string | undefined) ?? ".agent-os/cache" },
      progress: (step, detail) => say(step === "done" && detail ? `${STEPS.done} in ${(detail.ms / 1000).toFixed(1)} s` : STEPS[step]),
    });
    try {
      await writeFile(output, built.component);
    } catch (error) {
      throw new UsageError(`build: -o ${output}: cannot write it (${(error as NodeJS.ErrnoException).code ?? "error"})`, { cause: error });
    }
    say(`wrote ${output}: ${formatSize(built.component.length)}, sha256 ${built.hash}`);
    return EXIT.ok;
  } catch (error) {
    if (!(error instanceof AgentLoadError)) throw error;
    io.stderr(`agent-os build: ${escapeLines(error.message)}\n`);
    return EXIT.failure;
  }
};

export function formatSize(bytes: number): string {
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : bytes >= 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${bytes} bytes`;
}
