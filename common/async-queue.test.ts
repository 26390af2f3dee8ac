import { describe, expect, it } from "vitest";
import { AsyncQueue } from "./async-queue.js";

async function drain<T>(q: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of q) out.push(v);
  return out;
}

describe("AsyncQueue", () => {
  it("hands items to a waiting consumer and to a late one, in order", async () => {
    const q = new AsyncQueue<number>();
    const consumed = drain(q);
    q.push(1);
    await Promise.resolve();
    q.push(2);
    q.push(3);
    q.end();
    expect(await consumed).toEqual([1, 2, 3]);
  });

  it("drains queued items before throwing the error it ended with", async () => {
    const q = new AsyncQueue<string>();
    q.push("a");
    q.end(new Error("stream reset"));
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const v of q) seen.push(v);
      })(),
    ).rejects.toThrow("stream reset");
    expect(seen).toEqual(["a"]);
  });

  it("refuses pushes after it ended", () => {
    const q = new AsyncQueue<number>();
    q.end();
    expect(q.push(1)).toBe(false);
    expect(q.size).toBe(0);
  });
});
