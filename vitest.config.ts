import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Each file spawns its own worker threads; two cores are enough for two files at a time.
    maxWorkers: 2,
  },
});
