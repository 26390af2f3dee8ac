import { describe, expect, it } from "vitest";
import { CommandPolicy } from "./command-policy.js";
import { checkMcpCall } from "./mcp-access.js";
import { parsePolicy } from "./policy-file.js";

const rules = [{ name: "all", effect: "allow", program: "*" }];

describe("the mcp key of a role", () => {
  it('reads false, "read-only" and true, and defaults a listed role to read-only', () => {
    const policy = CommandPolicy.fromDocument(parsePolicy({ roles: { tech: { rules }, admin: { mcp: true, rules } } }));
    expect(policy.mcpAccess("tech")).toBe("read-only");
    expect(policy.mcpAccess("admin")).toBe("full");
    expect(CommandPolicy.fromDocument(parsePolicy({ roles: { tech: { mcp: false, rules } } })).mcpAccess("tech")).toBe(
      "none",
    );
    expect(
      CommandPolicy.fromDocument(parsePolicy({ roles: { tech: { mcp: "read-only", rules } } })).mcpAccess("tech"),
    ).toBe("read-only");
  });

  it("gives a role the file does not list no MCP access, and every role full access without a file", () => {
    expect(CommandPolicy.fromDocument(parsePolicy({ roles: { admin: { rules } } })).mcpAccess("tech")).toBe("none");
    expect(CommandPolicy.allowAll().mcpAccess("tech")).toBe("full");
  });

  it("refuses any other value, saying where and what is allowed", () => {
    expect(() => parsePolicy({ roles: { tech: { mcp: "yes", rules } } })).toThrow(
      'roles.tech.mcp must be false, "read-only" or true',
    );
  });
});

describe("a call made through MCP", () => {
  it("is refused for a role without MCP access, naming the setting", () => {
    expect(checkMcpCall("none", "tech", "ListAgents")).toEqual({
      type: "deny",
      reason: "role tech has no MCP access (policy roles.tech.mcp is false)",
    });
  });

  it("may read but not change the endpoint under read-only access", () => {
    for (const m of ["ListAgents", "OpenTunnel", "CloseTunnel", "GetTunnelStatus", "Stat", "ListDirectory", "Download"])
      expect(checkMcpCall("read-only", "tech", m).type).toBe("allow");
    for (const m of ["Exec", "OpenChannel", "PrepareUpload", "Upload", "SomeFutureMethod"])
      expect(checkMcpCall("read-only", "tech", m)).toMatchObject({ type: "deny", reason: expect.stringContaining(m) });
  });

  it("may do everything the role may under full access", () => {
    expect(checkMcpCall("full", "admin", "Exec").type).toBe("allow");
  });
});
