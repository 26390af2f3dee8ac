import { describe, expect, it } from "vitest";
import { CUT_TEXT_MAX, cutText } from "./cut-text.js";

describe("cutText", () => {
  it("leaves text that fits alone", () => {
    expect(cutText("a".repeat(CUT_TEXT_MAX))).toBe("a".repeat(CUT_TEXT_MAX));
    expect(cutText("")).toBe("");
  });

  it("cuts longer text to the limit and says it was cut and from what length", () => {
    const cut = cutText("b".repeat(1_000_000));
    expect(cut.length).toBe(CUT_TEXT_MAX);
    expect(cut).toMatch(/^b+\.\.\. \[cut from 1000000 chars\]$/);
  });

  it("takes another limit", () => {
    expect(cutText("c".repeat(100), 40)).toHaveLength(40);
  });

  it("never splits a surrogate pair", () => {
    const cut = cutText("😀".repeat(600), 100);
    expect(cut.length).toBeLessThanOrEqual(100);
    expect(cut.replace(/\.\.\. \[cut.*$/, "")).toMatch(/^(😀)+$/u);
  });
});
