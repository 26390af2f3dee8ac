import type { Client } from "@connectrpc/connect";
import type { Agent, TunnelService } from "../gen/rmm/v1/tunnel_service_pb.js";
import { ToolError } from "./tool-error.js";

/** Every agent the server knows (or those matching the filters, applied by the server), page by page. */
export async function listAgents(
  client: Client<typeof TunnelService>,
  filters: { onlineOnly?: boolean; selector?: string; hostname?: string } = {},
): Promise<Agent[]> {
  const agents: Agent[] = [];
  let pageToken = "";
  do {
    const page = await client.listAgents({
      onlineOnly: filters.onlineOnly ?? false,
      selector: filters.selector ?? "",
      hostname: filters.hostname ?? "",
      pageSize: 1000,
      pageToken,
    });
    agents.push(...page.agents);
    pageToken = page.nextPageToken;
  } while (pageToken);
  return agents;
}

/** An online agent named by id or by its (unique) hostname; a tool error saying what to do otherwise. */
export async function onlineAgent(client: Client<typeof TunnelService>, name: string): Promise<Agent> {
  const agents = await listAgents(client);
  const byHost = agents.filter((a) => a.hostname === name && !a.revoked);
  const agent = agents.find((a) => a.id === name) ?? (byHost.length === 1 ? byHost[0] : undefined);
  if (!agent && byHost.length > 1)
    throw new ToolError(
      `${byHost.length} agents have hostname ${name}: name one by id (${byHost.map((a) => a.id).join(", ")})`,
    );
  if (!agent) throw new ToolError(`no agent ${name}: list_agents shows the enrolled ones (by id and hostname)`);
  const label = agent.hostname ? `agent ${agent.hostname} (${agent.id})` : `agent ${agent.id}`;
  if (agent.revoked) throw new ToolError(`${label} is revoked`);
  if (!agent.online) {
    const since = agent.lastSeenTime
      ? ` since ${new Date(Number(agent.lastSeenTime.seconds) * 1000).toISOString()}`
      : " (never seen)";
    throw new ToolError(`${label} is offline${since}: list_agents with online_only shows the reachable ones`);
  }
  return agent;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The id of an agent named by id or by its (unique, exact) hostname, online
 * or not: a fleet job waits for offline agents. An id is passed on as it is
 * (the server says NOT_FOUND for an unknown one).
 */
export async function agentIdOf(client: Client<typeof TunnelService>, name: string): Promise<string> {
  if (UUID.test(name)) return name;
  if (/[*?]/.test(name)) throw new ToolError(`agent ${name}: name one agent by id or exact hostname, not a pattern`);
  const found = (await listAgents(client, { hostname: name })).filter((a) => !a.revoked);
  if (found.length > 1)
    throw new ToolError(
      `${found.length} agents have hostname ${name}: name one by id (${found.map((a) => a.id).join(", ")})`,
    );
  if (found.length === 0)
    throw new ToolError(`no agent ${name}: list_agents shows the enrolled ones (by id and hostname)`);
  return found[0]!.id;
}
