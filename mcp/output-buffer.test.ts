import { describe, expect, it } from "vitest";
import { OutputBuffer } from "./output-buffer.js";

const text = (b: Uint8Array) => Buffer.from(b).toString();

describe("a command's output buffer", () => {
  it("reads from any offset to the end, and says where to read on", () => {
    const out = new OutputBuffer(100);
    out.append(Buffer.from("abc"));
    out.append(Buffer.from("def"));
    expect(out.read(2)).toMatchObject({ from: 2, next: 6, dropped: 0 });
    expect(text(out.read(2).data)).toBe("cdef");
    expect(text(out.read(6).data)).toBe("");
  });

  it("drops the oldest bytes past its limit and tells a reader who asked for them", () => {
    const out = new OutputBuffer(4);
    out.append(Buffer.from("abc"));
    out.append(Buffer.from("defg"));
    const read = out.read(0);
    expect(text(read.data)).toBe("defg");
    expect(read).toMatchObject({ from: 3, next: 7, dropped: 3 });
    out.append(Buffer.from("hi"));
    expect(text(out.read(0).data)).toBe("fghi");
    expect(out.read(0).dropped).toBe(5);
    expect(out.end).toBe(9);
  });
});
