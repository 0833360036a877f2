#!/usr/bin/env node
import { main } from "./main.js";
import { processIo } from "./io.js";

// main() turns every error into a message and exit code 1 or 2 (failure.ts); this is a last resort.
main(process.argv.slice(2), processIo()).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`agent-os: internal error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
