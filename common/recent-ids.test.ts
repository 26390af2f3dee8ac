import { describe, expect, it } from "vitest";
import { RecentIds } from "./recent-ids.js";

describe("RecentIds", () => {
  it("remembers the last ids added, forgetting the oldest first", () => {
    const ids = new RecentIds(3);
    for (const id of [1, 2, 3]) ids.add(id);
    expect([1, 2, 3].map((id) => ids.has(id))).toEqual([true, true, true]);
    ids.add(4);
    expect([1, 2, 3, 4].map((id) => ids.has(id))).toEqual([false, true, true, true]);
    expect(ids.size).toBe(3);
  });

  it("treats an id added again as the newest", () => {
    const ids = new RecentIds(2);
    ids.add(1);
    ids.add(2);
    ids.add(1);
    ids.add(3);
    expect([1, 2, 3].map((id) => ids.has(id))).toEqual([true, false, true]);
  });

  it("refuses a capacity that could keep nothing", () => {
    expect(() => new RecentIds(0)).toThrow(/positive integer/);
    expect(() => new RecentIds(1.5)).toThrow(/positive integer/);
  });
});
