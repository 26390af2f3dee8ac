import { describe, expect, it } from "vitest";
import { ForwardAllowList } from "./forward-allow.js";

describe("the agent's --forward-allow list", () => {
  it("allows every target when empty", () => {
    expect(new ForwardAllowList([]).refusal({ host: "anything", port: 1 })).toBeUndefined();
  });

  it("matches host globs without regard to case and port globs, IPv6 hosts in brackets", () => {
    const allow = new ForwardAllowList(["localhost:33*", "10.0.0.*:443", "[::1]:*"]);
    expect(allow.refusal({ host: "LocalHost", port: 3389 })).toBeUndefined();
    expect(allow.refusal({ host: "10.0.0.9", port: 443 })).toBeUndefined();
    expect(allow.refusal({ host: "::1", port: 5432 })).toBeUndefined();
    expect(allow.refusal({ host: "10.0.0.9", port: 80 })).toBe(
      "forwarding to 10.0.0.9:80 is not allowed on this agent (rmm-agent run --forward-allow localhost:33* 10.0.0.*:443 [::1]:*)",
    );
    expect(allow.refusal({ host: "fe80::1", port: 22 })).toMatch(/^forwarding to \[fe80::1\]:22 is not allowed/);
  });

  it("rejects an entry that is not HOST:PORT", () => {
    for (const bad of ["localhost", ":22", "localhost:", "localhost:ssh"])
      expect(() => new ForwardAllowList([bad])).toThrow(`--forward-allow ${bad} is not HOST:PORT`);
  });
});
