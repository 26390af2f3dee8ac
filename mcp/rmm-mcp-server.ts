import { createClient, type Transport } from "@connectrpc/connect";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { mcpVia, VIA_HEADER } from "../common/via-header.js";
import { JobService } from "../gen/rmm/v1/job_service_pb.js";
import { TunnelService } from "../gen/rmm/v1/tunnel_service_pb.js";
import { CommandRegistry } from "./command-registry.js";
import type { McpToolAccess } from "./mcp-tool-access.js";
import { ephemeralSessionScope } from "./session-scope.js";
import { registerCommandTools } from "./tools/command-tools.js";
import { registerFileTools } from "./tools/file-tools.js";
import { registerFleetTools } from "./tools/fleet-tools.js";
import { registerListAgents } from "./tools/list-agents-tool.js";
import { TunnelSessionPool } from "./tunnel-session-pool.js";

/** The name and version this server gives in `initialize`. */
export const MCP_SERVER_INFO = { name: "rmm", version: "0.1.0" } as const;

export interface RmmMcpOptions {
  /**
   * Builds the transport the tools' TunnelService and JobService clients use.
   * It must send the technician's token and `headers()` (the `x-rmm-via`
   * marker naming the MCP client, known only once it has initialized) on
   * every call.
   */
  connect(headers: () => Record<string, string>): Transport;
  /** Which tools are listed. */
  access: McpToolAccess;
}

export interface RmmMcp {
  server: McpServer;
  /** Cancels running commands and lets go of the tunnel sessions this MCP session held. Idempotent. */
  close(): Promise<void>;
}

const INSTRUCTIONS = `Tools to act on remote endpoints (agents) of an RMM server, with the technician's own permissions: every call is checked by the server's policy and recorded in its audit trail as made through MCP.
Start with list_agents. run_command returns within wait_seconds; if the command is still running, poll get_command_output with the handle and the next offsets, or end it with cancel_command.
For many agents at once (a label selector, or a list of agent ids), run_on_fleet creates a job that the server runs on each of them, offline ones when they return; follow it with get_job.`;

/**
 * One MCP server for one MCP session, whichever transport carries it (stdio
 * in `rmm mcp`, Streamable HTTP at the server's `/mcp`): the same tools over
 * the same TunnelService API, so the server enforces everything.
 */
export function createRmmMcpServer(opts: RmmMcpOptions): RmmMcp {
  const server = new McpServer(MCP_SERVER_INFO, { instructions: INSTRUCTIONS });
  const transport = opts.connect(() => {
    const info = server.server.getClientVersion();
    return { [VIA_HEADER]: mcpVia(info?.name, info?.version) };
  });
  const client = createClient(TunnelService, transport);
  const jobs = createClient(JobService, transport);
  const sessions = new TunnelSessionPool(ephemeralSessionScope(client));
  const commands = new CommandRegistry();
  const ctx = { client, jobs, sessions, commands };
  registerListAgents(server, opts.access, ctx);
  registerCommandTools(server, opts.access, ctx);
  registerFileTools(server, opts.access, ctx);
  registerFleetTools(server, opts.access, ctx);
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await commands.close("the MCP session ended");
      await sessions.close();
      await server.close();
    })());
  return { server, close };
}
