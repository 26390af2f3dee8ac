import { describe, expect, it } from "vitest";
import { effectiveLabels, labelKeyProblem, labelsProblem, labelValueProblem, parseLabelFlag } from "./labels.js";

describe("label syntax", () => {
  it("accepts Kubernetes keys and values", () => {
    for (const key of ["env", "a", "app.kubernetes.io/name", "x-y_z.w", "A1", "example.com/" + "n".repeat(63)])
      expect(labelKeyProblem(key), key).toBeUndefined();
    for (const value of ["", "prod", "v1.2_3-rc", "x".repeat(63)]) expect(labelValueProblem(value)).toBeUndefined();
  });

  it("refuses what Kubernetes refuses, saying why", () => {
    expect(labelKeyProblem("")).toMatch(/empty name/);
    expect(labelKeyProblem("/x")).toMatch(/empty prefix/);
    expect(labelKeyProblem("-x")).toMatch(/starting and ending/);
    expect(labelKeyProblem("x".repeat(64))).toMatch(/longer than 63/);
    expect(labelKeyProblem("Example.com/x")).toMatch(/DNS subdomain/);
    expect(labelKeyProblem(`${"a".repeat(254)}/x`)).toMatch(/longer than 253/);
    expect(labelValueProblem("has space")).toMatch(/must be empty or/);
    expect(labelValueProblem("v".repeat(64))).toMatch(/longer than 63/);
    expect(labelsProblem(Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, "v"])))).toMatch(
      /over the limit of 64/,
    );
  });

  it("parses key=value flags", () => {
    expect(parseLabelFlag("env=prod")).toEqual(["env", "prod"]);
    expect(parseLabelFlag("empty=")).toEqual(["empty", ""]);
    expect(() => parseLabelFlag("env")).toThrow(/not key=value/);
    expect(() => parseLabelFlag("env=a b")).toThrow(/must be empty or/);
  });

  it("lets server-side labels win over reported ones", () => {
    expect(effectiveLabels({ env: "dev", a: "1" }, { env: "prod" })).toEqual({ env: "prod", a: "1" });
  });
});
