import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Heartbeat } from "./heartbeat.js";

describe("Heartbeat", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("beats at the interval it was given and not after it is stopped", async () => {
    const sent: number[] = [];
    const hb = new Heartbeat({ sendHeartbeat: () => sent.push(Date.now()) }, async () => ({ uptimeSeconds: 1n }));
    hb.start(1_000);
    await vi.advanceTimersByTimeAsync(3_500);
    expect(sent).toHaveLength(3);
    hb.stop();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(sent).toHaveLength(3);
  });

  it("restarts with a new interval when the server changes it", async () => {
    let beats = 0;
    const hb = new Heartbeat({ sendHeartbeat: () => beats++ }, async () => ({}));
    hb.start(10_000);
    hb.start(100);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(beats).toBe(10);
    hb.stop();
  });
});
