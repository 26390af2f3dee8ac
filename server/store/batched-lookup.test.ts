import { describe, expect, it } from "vitest";
import { BatchedLookup, LOOKUP_BATCH_MAX } from "./batched-lookup.js";

describe("lookups answered in batches", () => {
  it("answers keys asked in one turn with one fetch, each caller its own value, unknown keys undefined", async () => {
    const fetches: string[][] = [];
    const lookup = new BatchedLookup<string, number>(async (keys) => {
      fetches.push(keys);
      return new Map(keys.filter((k) => k !== "nope").map((k) => [k, k.length]));
    });
    const answers = await Promise.all([lookup.get("a"), lookup.get("bbb"), lookup.get("a"), lookup.get("nope")]);
    expect(answers).toEqual([1, 3, 1, undefined]);
    expect(fetches).toEqual([["a", "bbb", "nope"]]);
  });

  it("splits a storm into statements of at most LOOKUP_BATCH_MAX keys and answers every one", async () => {
    const sizes: number[] = [];
    const lookup = new BatchedLookup<number, number>(async (keys) => {
      sizes.push(keys.length);
      return new Map(keys.map((k) => [k, k * 2]));
    });
    const keys = Array.from({ length: LOOKUP_BATCH_MAX * 2 + 7 }, (_, i) => i);
    expect(await Promise.all(keys.map((k) => lookup.get(k)))).toEqual(keys.map((k) => k * 2));
    expect(Math.max(...sizes)).toBeLessThanOrEqual(LOOKUP_BATCH_MAX);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(keys.length);
  });

  it("fails every caller of a batch whose fetch failed, and serves later keys afresh", async () => {
    let fail = true;
    const lookup = new BatchedLookup<string, string>(async (keys) => {
      if (fail) throw new Error("database unavailable");
      return new Map(keys.map((k) => [k, k.toUpperCase()]));
    });
    const both = [lookup.get("x"), lookup.get("y")];
    await expect(both[0]).rejects.toThrow("database unavailable");
    await expect(both[1]).rejects.toThrow("database unavailable");
    fail = false;
    expect(await lookup.get("x")).toBe("X");
  });
});
