import { describe, expect, it } from "vitest";
import { WarningThrottle } from "./warning-throttle.js";

describe("WarningThrottle", () => {
  it("admits the first warnings of a window, counts the rest and reports them with the next one admitted", () => {
    let now = 0;
    const throttle = new WarningThrottle(2, 1_000, () => now);
    expect([throttle.admit(), throttle.admit(), throttle.admit(), throttle.admit()]).toEqual([
      0,
      0,
      undefined,
      undefined,
    ]);
    now = 1_000;
    expect(throttle.admit()).toBe(2);
    expect(throttle.admit()).toBe(0);
    expect(throttle.admit()).toBeUndefined();
  });
});
