export { createRmmMcpServer, MCP_SERVER_INFO, type RmmMcp, type RmmMcpOptions } from "./rmm-mcp-server.js";
export type { McpToolAccess } from "./mcp-tool-access.js";
