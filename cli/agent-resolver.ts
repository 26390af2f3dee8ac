import type { Client } from "@connectrpc/connect";
import type { Agent, TunnelService } from "../gen/rmm/v1/tunnel_service_pb.js";
import { CliError, ExitCode } from "./cli-error.js";
import { formatTime } from "./output-format.js";

/** Every agent the server knows, page by page. */
export async function listAllAgents(
  client: Client<typeof TunnelService>,
  onlineOnly = false,
  filter: { selector?: string; hostname?: string } = {},
): Promise<Agent[]> {
  const agents: Agent[] = [];
  let pageToken = "";
  do {
    const page = await client.listAgents({ onlineOnly, pageSize: 1000, pageToken, ...filter });
    agents.push(...page.agents);
    pageToken = page.nextPageToken;
  } while (pageToken);
  return agents;
}

/** An agent named by its id or by its hostname (which must then be unique). */
export async function resolveAgent(client: Client<typeof TunnelService>, name: string): Promise<Agent> {
  if (!name) throw new CliError("no agent given: name one by id or hostname (rmm agents lists them)", ExitCode.Usage);
  const agents = await listAllAgents(client);
  const byId = agents.find((a) => a.id === name);
  if (byId) return byId;
  const byHost = agents.filter((a) => a.hostname === name && !a.revoked);
  if (byHost.length === 1) return byHost[0]!;
  if (byHost.length > 1)
    throw new CliError(
      `${byHost.length} agents have hostname ${name}: use an id (${byHost.map((a) => a.id).join(", ")})`,
      ExitCode.Conflict,
    );
  throw new CliError(`no agent ${name}: rmm agents lists the enrolled ones`, ExitCode.NotFound);
}

/** Fails with a message a technician can act on unless the agent can take a tunnel now. */
export function requireOnline(agent: Agent): void {
  const label = agent.hostname ? `agent ${agent.hostname} (${agent.id})` : `agent ${agent.id}`;
  if (agent.revoked) throw new CliError(`${label} is revoked`, ExitCode.PermissionDenied);
  if (!agent.online) {
    const since = agent.lastSeenTime ? ` since ${formatTime(agent.lastSeenTime)}` : " (never seen)";
    throw new CliError(`${label} is offline${since}`, ExitCode.Unavailable);
  }
}
