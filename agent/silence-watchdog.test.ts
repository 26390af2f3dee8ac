import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { SilenceWatchdog } from "./silence-watchdog.js";

describe("SilenceWatchdog", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("stays quiet while the server is heard within the span, and fires once when it falls silent", () => {
    const silences: number[] = [];
    const watchdog = new SilenceWatchdog((ms) => silences.push(ms));
    watchdog.start(1_000);
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(600);
      watchdog.heard();
    }
    expect(silences).toEqual([]);
    vi.advanceTimersByTime(1_500);
    expect(silences).toHaveLength(1);
    expect(silences[0]).toBeGreaterThan(1_000);
    expect(watchdog.running).toBe(false);
    vi.advanceTimersByTime(5_000);
    expect(silences).toHaveLength(1);
  });

  it("never fires once stopped", () => {
    const fired = vi.fn();
    const watchdog = new SilenceWatchdog(fired);
    watchdog.start(100);
    watchdog.stop();
    vi.advanceTimersByTime(1_000);
    expect(fired).not.toHaveBeenCalled();
  });
});
