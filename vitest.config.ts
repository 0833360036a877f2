import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Each file spawns its own worker threads; two cores are enough for two files at a time.
    maxWorkers: 2,
    // The in-thread tests run agents on the test process's main thread, whose V8 stack is 984 KB
    // by default: once V8 has optimised the engine, one guest call can take 30 KB of it (see the README).
    execArgv: ["--stack-size=7000"],
  },
});
