import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "./duration.js";

describe("durations", () => {
  it.each([
    [25_000, "25s"],
    [30 * 60_000, "30m"],
    [20 * 60_000, "20m"],
    [2 * 3_600_000, "2h"],
    [7 * 86_400_000, "7d"],
    [1_500, "1500ms"],
    [90_000, "90s"],
  ])("writes %i ms as %s, which parses back to the same value", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text, "--x")).toBe(ms);
  });
});
