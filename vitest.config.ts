import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["**/*.test.ts"],
    exclude: ["node_modules/**", "dist/**"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration suites start real servers on ephemeral ports and create their
    // own databases, so files can run in parallel on the two cores.
    pool: "forks",
    reporters: ["default", "./test/support/plain-summary-reporter.ts"],
  },
});
