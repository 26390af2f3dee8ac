export { createRmmMcpServer, MCP_SERVER_INFO, type RmmMcp, type RmmMcpOptions } from "./rmm-mcp-server.js";
export { apiSessionScope, type SessionScope } from "./session-scope.js";
export type { McpToolAccess } from "./mcp-tool-access.js";
