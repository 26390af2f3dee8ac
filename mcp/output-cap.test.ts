import { describe, expect, it } from "vitest";
import { capText } from "./output-cap.js";

describe("inline output", () => {
  it("is returned whole up to the cap", () => {
    expect(capText(Buffer.from("hello"), 8)).toEqual({ text: "hello", bytes: 5, cutBytes: 0 });
  });

  it("keeps head and tail past the cap, and says in the text how much of the middle was cut", () => {
    const capped = capText(Buffer.from("AAAA" + "x".repeat(100) + "ZZZZ"), 8);
    expect(capped.bytes).toBe(108);
    expect(capped.cutBytes).toBe(100);
    expect(capped.text.startsWith("AAAA\n[... 100 bytes cut from the middle (108 in all)")).toBe(true);
    expect(capped.text.endsWith("...]\nZZZZ")).toBe(true);
  });
});
