import { describe, expect, it } from "vitest";
import { HeadTailBuffer } from "./head-tail-buffer.js";

describe("HeadTailBuffer", () => {
  it("keeps short output whole in the head", () => {
    const b = new HeadTailBuffer(8);
    b.push(Buffer.from("abc"));
    b.push(Buffer.from("de"));
    expect(b.result()).toEqual({ head: Buffer.from("abcde"), tail: Buffer.alloc(0), totalBytes: 5, truncated: false });
  });

  it("keeps both ends of long output with the true byte count", () => {
    const b = new HeadTailBuffer(4);
    const all = "0123456789abcdefghij";
    for (let i = 0; i < all.length; i += 3) b.push(Buffer.from(all.slice(i, i + 3)));
    const r = b.result();
    expect(r.head.toString()).toBe("0123");
    expect(r.tail.toString()).toBe("ghij");
    expect(r).toMatchObject({ totalBytes: 20, truncated: true });
  });

  it("is not truncated when head and tail together hold everything", () => {
    const b = new HeadTailBuffer(4);
    b.push(Buffer.from("01234567"));
    expect(b.result()).toMatchObject({ totalBytes: 8, truncated: false });
    expect(b.result().tail.toString()).toBe("4567");
  });
});
