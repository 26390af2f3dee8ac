import { JobService } from "../../gen/rmm/v1/job_service_pb.js";
import { TunnelService } from "../../gen/rmm/v1/tunnel_service_pb.js";

/**
 * What a role may do through an MCP client (an AI assistant acting with the
 * technician's token): `none`, `read-only` (listing agents, opening sessions,
 * reading files) or `full` (everything the role may do anyway). In the policy
 * file this is `mcp: false`, `mcp: "read-only"` or `mcp: true`.
 */
export const MCP_ACCESS_LEVELS = ["none", "read-only", "full"] as const;
export type McpAccess = (typeof MCP_ACCESS_LEVELS)[number];

/** A listed role without an `mcp` key: assistants may look, not act. */
export const MCP_ACCESS_DEFAULT: McpAccess = "read-only";

/**
 * The calls a read-only MCP client may make, per service. Sessions may be
 * opened and closed (reading a file needs one); Exec, OpenChannel,
 * PrepareUpload, MakeDirectory, Upload and SetAgentLabels change something and are refused,
 * as are CreateJob and CancelJob. Reading jobs is open (as it is to every
 * technician). A method or service not listed here is refused too, so a new
 * RPC stays closed until it is classified.
 */
const READ_ONLY_METHODS: ReadonlyMap<string, ReadonlySet<string>> = new Map([
  [
    TunnelService.typeName,
    new Set(["ListAgents", "OpenTunnel", "CloseTunnel", "GetTunnelStatus", "Stat", "ListDirectory", "Download"]),
  ],
  [JobService.typeName, new Set(["GetJob", "ListJobs", "WatchJob", "GetJobStepOutput"])],
]);

/**
 * The policy's word on one call made through MCP (`service` is the
 * fully-qualified service name, e.g. rmm.v1.JobService); a refusal says why
 * in a sentence.
 */
export function checkMcpCall(
  access: McpAccess,
  role: string,
  service: string,
  method: string,
): { type: "allow" } | { type: "deny"; reason: string } {
  if (access === "full") return { type: "allow" };
  if (access === "none")
    return { type: "deny", reason: `role ${role} has no MCP access (policy roles.${role}.mcp is false)` };
  if (READ_ONLY_METHODS.get(service)?.has(method)) return { type: "allow" };
  return {
    type: "deny",
    reason: `role ${role} has read-only MCP access (policy roles.${role}.mcp): ${method} is not a read-only call and is refused`,
  };
}

/** The policy file's `mcp` value as an access level, or undefined when it is not one of false, "read-only", true. */
export function mcpAccessOf(value: unknown): McpAccess | undefined {
  if (value === true) return "full";
  if (value === false) return "none";
  if (value === "read-only") return "read-only";
  return undefined;
}
