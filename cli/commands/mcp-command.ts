import type { Command } from "commander";
import { createTechnicianTransport } from "../../client/technician-client.js";
import { cliContext } from "../cli-context.js";

export function registerMcp(program: Command): void {
  program
    .command("mcp")
    .description(
      "serve this platform to an AI assistant as a Model Context Protocol server on stdin/stdout, acting with your login",
    )
    .addHelpText(
      "after",
      `
Every tool call goes to the server as you, through its policy and audit (marked via mcp/CLIENT/VERSION).
Nothing but MCP messages is written to stdout; errors go to stderr.

Examples:
  claude mcp add rmm -- rmm mcp
  RMM_SERVER=https://rmm.example:7443 RMM_TOKEN=... rmm mcp`,
    )
    .action(async () => {
      const ctx = cliContext();
      const { server, token, caFile } = ctx.config;
      // Loaded here, not at the top: the SDK and its schemas would slow every other rmm command's start.
      const [{ StdioServerTransport }, { createRmmMcpServer }] = await Promise.all([
        import("@modelcontextprotocol/sdk/server/stdio.js"),
        import("../../mcp/index.js"),
      ]);
      const mcp = createRmmMcpServer({
        connect: (headers) => createTechnicianTransport(server, token, { ...(caFile && { caFile }), headers }),
        // The server knows the role's MCP setting and refuses what it does not allow.
        access: "full",
      });
      const transport = new StdioServerTransport();
      const ended = new Promise<void>((resolve) => {
        transport.onclose = () => resolve();
        // The SDK's stdio transport does not notice its client going away: stdin ending is that.
        process.stdin.once("end", () => resolve());
        process.once("SIGINT", () => resolve());
        process.once("SIGTERM", () => resolve());
      });
      await mcp.server.connect(transport);
      await ended;
      await mcp.close();
      process.exit(0);
    });
}
