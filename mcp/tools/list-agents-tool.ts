import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { ChannelType } from "../../gen/rmm/v1/frame_pb.js";
import { listAgents } from "../agent-lookup.js";
import { defineTool } from "../define-tool.js";
import type { McpToolAccess } from "../mcp-tool-access.js";
import type { ToolContext } from "../tool-context.js";

/** Longest selector sent: the server refuses more than 4096 characters. */
export const MAX_SELECTOR_CHARS = 4096;

const agentSchema = z.object({
  id: z.string(),
  hostname: z.string(),
  os: z.string(),
  agentVersion: z.string(),
  online: z.boolean(),
  revoked: z.boolean(),
  lastSeen: z.string().nullable().describe("ISO 8601; lags by a few seconds"),
  capabilities: z.array(z.string()).describe("channel types the agent accepts, e.g. exec, file"),
  activeSessionId: z.string().nullable(),
  labels: z
    .record(z.string(), z.string())
    .describe("what selectors match: the agent's reported labels with the server's set by admins on top"),
});

/** list_agents: the hostname filter is applied here (a substring), the others by the server. */
export function registerListAgents(server: McpServer, access: McpToolAccess, ctx: ToolContext): void {
  defineTool(server, access, {
    name: "list_agents",
    title: "List agents",
    description:
      "List the endpoints (agents) enrolled on the RMM server, with their hostname, OS, labels and whether they are online; a label selector picks agents as run_on_fleet would. Name an agent by id or hostname in the other tools.",
    input: z.object({
      hostname: z
        .string()
        .max(255)
        .optional()
        .describe("only agents whose hostname contains this text (case-insensitive)"),
      online_only: z.boolean().default(false).describe("only agents connected now"),
      selector: z
        .string()
        .max(MAX_SELECTOR_CHARS)
        .optional()
        .describe(
          "Kubernetes label selector over the agents' labels, e.g. env=prod,role!=db,tier in (web,api),!decommissioned",
        ),
    }),
    output: z.object({ agents: z.array(agentSchema), count: z.number().int() }),
    readOnly: true,
    async handler(args) {
      const needle = args.hostname?.toLowerCase();
      const agents = (await listAgents(ctx.client, { onlineOnly: args.online_only, selector: args.selector ?? "" }))
        .filter((a) => !needle || a.hostname.toLowerCase().includes(needle))
        .map((a) => ({
          id: a.id,
          hostname: a.hostname,
          os: a.os,
          agentVersion: a.agentVersion,
          online: a.online,
          revoked: a.revoked,
          lastSeen: a.lastSeenTime ? new Date(Number(a.lastSeenTime.seconds) * 1000).toISOString() : null,
          capabilities: a.capabilities.map((c) => (ChannelType[c] ?? String(c)).toLowerCase()),
          activeSessionId: a.activeSessionId || null,
          labels: { ...a.labels },
        }));
      return { agents, count: agents.length };
    },
  });
}
