import { describe, expect, it } from "vitest";
import { duration, uptime, usedShare } from "./format.js";

describe("console formats", () => {
  it("gives uptime as its two largest units", () => {
    expect(uptime(9)).toBe("9s");
    expect(uptime(0)).toBe("0s");
    expect(uptime(42 * 60 + 5)).toBe("42m 5s");
    expect(uptime(3 * 86_400 + 4 * 3_600 + 59)).toBe("3d 4h");
  });

  it("gives a share of use, unknown when the total is", () => {
    expect(usedShare(200n, 50n)).toBe(0.75);
    expect(usedShare(0n, 0n)).toBeUndefined();
  });

  it("gives durations in ms, s, then minutes", () => {
    expect(duration(850)).toBe("850 ms");
    expect(duration(12_400)).toBe("12.4 s");
    expect(duration(185_000)).toBe("3 min 5 s");
  });
});
