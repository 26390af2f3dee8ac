import { describe, expect, it } from "vitest";
import { PartialLocks } from "./partial-locks.js";

describe("PartialLocks", () => {
  it("hands a path to one holder at a time, in order, and lets other paths through", async () => {
    const locks = new PartialLocks();
    const order: string[] = [];
    const first = await locks.acquire("/a");
    const second = locks.acquire("/a").then((release) => {
      order.push("second");
      release();
    });
    const settled = locks.settled("/a").then(() => order.push("settled"));
    (await locks.acquire("/b"))();
    order.push("other path");
    await new Promise((r) => setTimeout(r, 5));
    expect(order).toEqual(["other path"]);
    first();
    first();
    await Promise.all([second, settled]);
    expect(order).toEqual(["other path", "second", "settled"]);
  });

  it("takes a path at once only when nobody holds or waits for it", async () => {
    const locks = new PartialLocks();
    const held = await locks.acquire("/a");
    expect(locks.tryAcquire("/a")).toBeUndefined();
    const waiting = locks.acquire("/a");
    held();
    // Still promised to the waiter.
    expect(locks.tryAcquire("/a")).toBeUndefined();
    (await waiting)();
    const taken = locks.tryAcquire("/a");
    expect(taken).toBeTypeOf("function");
    let next = false;
    const after = locks.acquire("/a").then((release) => {
      next = true;
      release();
    });
    await new Promise((r) => setTimeout(r, 5));
    expect(next).toBe(false);
    taken!();
    await after;
    expect(next).toBe(true);
    expect(locks.tryAcquire("/a")).toBeTypeOf("function");
  });
});
