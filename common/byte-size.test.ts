import { describe, expect, it } from "vitest";
import { formatByteSize, parseByteSize } from "./byte-size.js";

describe("parseByteSize", () => {
  it("reads binary and decimal units and bare byte counts", () => {
    expect(parseByteSize("4GiB", "--x")).toBe(4 * 1024 ** 3);
    expect(parseByteSize("500MB", "--x")).toBe(500e6);
    expect(parseByteSize("65536", "--x")).toBe(65536);
    expect(parseByteSize("0", "--x")).toBe(0);
  });
  it("refuses what it cannot read, naming the flag", () => {
    expect(() => parseByteSize("lots", "--max-transfer-bytes")).toThrow(/--max-transfer-bytes "lots" is not a size/);
    expect(() => parseByteSize("4XB", "--x")).toThrow(/not a size/);
  });
  it("formats sizes for people", () => {
    expect(formatByteSize(4 * 1024 ** 3)).toBe("4 GiB");
    expect(formatByteSize(1536)).toBe("1.5 KiB");
  });
});
