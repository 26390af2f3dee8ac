import { describe, expect, it } from "vitest";
import { MAX_VIA_CHARS, mcpVia, viaProblem } from "./via-header.js";

describe("the x-rmm-via marker", () => {
  it("names the MCP client and its version", () => {
    expect(mcpVia("example-client", "2.0.1")).toBe("mcp/example-client/2.0.1");
    expect(viaProblem(mcpVia("example-client", "2.0.1"))).toBeUndefined();
  });

  it("turns what a client name may not carry into _, so any client can call", () => {
    const via = mcpVia("My Client/ü", "1 beta");
    expect(via).toBe("mcp/My_Client__/1_beta");
    expect(viaProblem(via)).toBeUndefined();
    expect(mcpVia(undefined, undefined)).toBe("mcp/unknown/0");
    expect(viaProblem(mcpVia("x".repeat(500), "y".repeat(500)))).toBeUndefined();
  });

  it("is refused when too long or not printable ASCII, saying why", () => {
    expect(viaProblem("m".repeat(MAX_VIA_CHARS + 1))).toMatch(/over its limit of 200/);
    expect(viaProblem("mcp/a b")).toMatch(/printable ASCII without spaces/);
    expect(viaProblem("mcp/\n")).toMatch(/printable ASCII/);
  });
});
