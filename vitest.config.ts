import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["**/*.test.ts"],
    exclude: ["node_modules/**", "dist/**"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration suites start real servers on ephemeral ports and create their
    // own databases, so files can run in parallel.
    pool: "forks",
    // Two files per core. Vitest's default for a run is cores - 1, one file at a
    // time on a 2-core machine, and a file spends most of its time waiting on the
    // servers, agents and databases it started: measured, the whole suite used
    // under half of the two cores that way.
    maxWorkers: Math.max(2, availableParallelism() * 2),
    reporters: ["default", "./test/support/plain-summary-reporter.ts"],
  },
});
