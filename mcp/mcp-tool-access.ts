/**
 * Which tools a server lists: `read-only` lists only tools that read. The
 * server's `/mcp` knows the role's policy and lists accordingly; `rmm mcp`
 * lists all of them, and the server refuses what the role may not do.
 */
export type McpToolAccess = "read-only" | "full";
