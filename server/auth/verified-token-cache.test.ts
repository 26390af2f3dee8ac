import { describe, expect, it } from "vitest";
import { VerifiedTokenCache } from "./verified-token-cache.js";

describe("VerifiedTokenCache", () => {
  it("forgets a token after the ttl", () => {
    let now = 1_000;
    const cache = new VerifiedTokenCache<string>(60_000, 10, () => now);
    cache.set("t", "alice", now + 3_600_000);
    now += 59_999;
    expect(cache.get("t")).toBe("alice");
    now += 1;
    expect(cache.get("t")).toBeUndefined();
  });

  it("never keeps a token past its own expiry", () => {
    let now = 1_000;
    const cache = new VerifiedTokenCache<string>(60_000, 10, () => now);
    cache.set("t", "alice", now + 5_000);
    now += 5_000;
    expect(cache.get("t")).toBeUndefined();
    cache.set("expired", "bob", now - 1);
    expect(cache.get("expired")).toBeUndefined();
  });

  it("holds at most max tokens, forgetting the oldest", () => {
    const cache = new VerifiedTokenCache<number>(60_000, 2, () => 0);
    cache.set("a", 1, 10_000);
    cache.set("b", 2, 10_000);
    cache.set("c", 3, 10_000);
    expect([cache.get("a"), cache.get("b"), cache.get("c")]).toEqual([undefined, 2, 3]);
  });
});
