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
 * TunnelService methods a read-only MCP client may call. Sessions may be
 * opened and closed (reading a file needs one); Exec, OpenChannel,
 * PrepareUpload and Upload change the endpoint and are refused. A method not
 * listed here is refused too, so a new RPC stays closed until it is classified.
 */
const READ_ONLY_METHODS: ReadonlySet<string> = new Set([
  "ListAgents",
  "OpenTunnel",
  "CloseTunnel",
  "GetTunnelStatus",
  "Stat",
  "ListDirectory",
  "Download",
]);

/** The policy's word on one TunnelService call made through MCP; a refusal says why in a sentence. */
export function checkMcpCall(
  access: McpAccess,
  role: string,
  method: string,
): { type: "allow" } | { type: "deny"; reason: string } {
  if (access === "full") return { type: "allow" };
  if (access === "none")
    return { type: "deny", reason: `role ${role} has no MCP access (policy roles.${role}.mcp is false)` };
  if (READ_ONLY_METHODS.has(method)) return { type: "allow" };
  return {
    type: "deny",
    reason: `role ${role} has read-only MCP access (policy roles.${role}.mcp): ${method} changes the endpoint and is refused`,
  };
}

/** The policy file's `mcp` value as an access level, or undefined when it is not one of false, "read-only", true. */
export function mcpAccessOf(value: unknown): McpAccess | undefined {
  if (value === true) return "full";
  if (value === false) return "none";
  if (value === "read-only") return "read-only";
  return undefined;
}
