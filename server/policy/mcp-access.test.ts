import { describe, expect, it } from "vitest";
import { CommandPolicy } from "./command-policy.js";
import { JobService } from "../../gen/rmm/v1/job_service_pb.js";
import { TunnelService } from "../../gen/rmm/v1/tunnel_service_pb.js";
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
    expect(checkMcpCall("none", "tech", TunnelService.typeName, "ListAgents")).toEqual({
      type: "deny",
      reason: "role tech has no MCP access (policy roles.tech.mcp is false)",
    });
  });

  it("may read but not change the endpoint under read-only access", () => {
    const tunnel = TunnelService.typeName;
    for (const m of ["ListAgents", "OpenTunnel", "CloseTunnel", "GetTunnelStatus", "Stat", "ListDirectory", "Download"])
      expect(checkMcpCall("read-only", "tech", tunnel, m).type).toBe("allow");
    for (const m of ["Exec", "OpenChannel", "PrepareUpload", "Upload", "SetAgentLabels", "SomeFutureMethod"])
      expect(checkMcpCall("read-only", "tech", tunnel, m)).toMatchObject({
        type: "deny",
        reason: expect.stringContaining(m),
      });
  });

  it("may read jobs but not create or cancel them under read-only access, every JobService method decided", () => {
    const expected: Record<string, "allow" | "deny"> = {
      CreateJob: "deny",
      GetJob: "allow",
      ListJobs: "allow",
      WatchJob: "allow",
      CancelJob: "deny",
      GetJobStepOutput: "allow",
    };
    // A new JobService RPC fails here until it is classified (it is refused meanwhile).
    expect(Object.keys(expected).sort()).toEqual(JobService.methods.map((m) => m.name).sort());
    for (const [m, decision] of Object.entries(expected))
      expect(checkMcpCall("read-only", "tech", JobService.typeName, m)).toEqual(
        decision === "allow"
          ? { type: "allow" }
          : {
              type: "deny",
              reason: `role tech has read-only MCP access (policy roles.tech.mcp): ${m} is not a read-only call and is refused`,
            },
      );
  });

  it("judges a method by its service: a read-only name under another service is refused", () => {
    expect(checkMcpCall("read-only", "tech", "rmm.v1.OtherService", "GetJob").type).toBe("deny");
    expect(checkMcpCall("read-only", "tech", JobService.typeName, "ListAgents").type).toBe("deny");
  });

  it("may do everything the role may under full access", () => {
    expect(checkMcpCall("full", "admin", TunnelService.typeName, "Exec").type).toBe("allow");
    expect(checkMcpCall("full", "admin", JobService.typeName, "CreateJob").type).toBe("allow");
  });
});
