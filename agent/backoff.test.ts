import { describe, expect, it } from "vitest";
import { Backoff } from "./backoff.js";

describe("Backoff", () => {
  it("raises the ceiling exponentially up to the cap", () => {
    const b = new Backoff({ initialMs: 100, multiplier: 2, maxMs: 500, random: () => 0.999999 });
    expect([b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([99, 199, 399, 499, 499]);
  });

  it("spreads delays over the whole window (full jitter)", () => {
    const b = new Backoff({ initialMs: 1_000, random: () => 0 });
    expect(b.next()).toBe(0);
    const delays = Array.from({ length: 2_000 }, () => new Backoff({ initialMs: 1_000 }).next());
    expect(Math.min(...delays)).toBeLessThan(100);
    expect(Math.max(...delays)).toBeGreaterThan(900);
  });

  it("starts over only after a connection that stayed up long enough", () => {
    const b = new Backoff({
      initialMs: 100,
      multiplier: 2,
      maxMs: 10_000,
      stableAfterMs: 1_000,
      rejoinAttempts: 0,
      random: () => 0.999999,
    });
    b.next();
    b.next();
    b.connectionEnded(50);
    expect(b.next()).toBe(399);
    b.connectionEnded(1_000);
    expect(b.next()).toBe(99);
  });

  it("keeps the initial ceiling for the rejoin attempts after a stable connection, then grows again", () => {
    const b = new Backoff({
      initialMs: 100,
      multiplier: 2,
      maxMs: 10_000,
      stableAfterMs: 1_000,
      rejoinAttempts: 3,
      random: () => 0.999999,
    });
    // A first start is not a rejoin: the ceiling grows from the first failure.
    expect([b.next(), b.next()]).toEqual([99, 199]);
    b.connectionEnded(1_000);
    expect([b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([99, 99, 99, 99, 199]);
  });

  it("does not rejoin fast after a connection that failed quickly: a flapping server is backed off", () => {
    const b = new Backoff({ initialMs: 100, multiplier: 2, stableAfterMs: 1_000, random: () => 0.999999 });
    b.connectionEnded(1_000);
    // Ten rejoin attempts at the initial ceiling, then two that raise it to 400 ms.
    for (let i = 0; i < 12; i++) b.next();
    b.connectionEnded(999);
    expect([b.next(), b.next()]).toEqual([399, 799]);
  });
});
