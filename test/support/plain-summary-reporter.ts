import type { Reporter, TestModule } from "vitest/node";

/**
 * Ends the run with one plain line, `tests: N passed, N failed[, N skipped]`,
 * that any CI can read whatever it knows of vitest's own summary.
 */
export default class PlainSummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    const count = { passed: 0, failed: 0, skipped: 0 };
    for (const module of testModules) {
      let failedHere = 0;
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === "passed") count.passed++;
        else if (state === "failed") failedHere++;
        else count.skipped++;
      }
      // A file that failed to load, or whose beforeAll threw (its tests then show as skipped), failed
      // although none of its tests did: it counts once.
      if (module.state() === "failed" && failedHere === 0) failedHere = 1;
      count.failed += failedHere;
    }
    count.failed += unhandledErrors.length;
    const skipped = count.skipped > 0 ? `, ${count.skipped} skipped` : "";
    process.stdout.write(`\ntests: ${count.passed} passed, ${count.failed} failed${skipped}\n`);
  }
}
