import { describe, expect, it } from "vitest";
import { PartialLocks } from "./partial-locks.js";

/**
 * Whether `promise` is still unsettled once every callback already queued has run. PartialLocks settles only
 * through promise callbacks, so whatever can happen without a release has happened by then.
 */
async function pending(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return !settled;
}

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
    expect(await pending(second)).toBe(true);
    expect(await pending(settled)).toBe(true);
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
    expect(await pending(after)).toBe(true);
    expect(next).toBe(false);
    taken!();
    expect(await pending(after)).toBe(false);
    expect(next).toBe(true);
    expect(locks.tryAcquire("/a")).toBeTypeOf("function");
  });
});
