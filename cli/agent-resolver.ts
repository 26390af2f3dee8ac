import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { isUuid } from "../common/ids.js";
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

/** Shortest id prefix that rmm accepts, so a typo of one or two characters does not pick an agent by chance. */
export const MIN_ID_PREFIX = 4;

/**
 * An agent named by its id, a unique id prefix (at least 4 characters, as git
 * takes commit prefixes) or its hostname. Several agents with one hostname
 * (a machine enrolled again): the online one is taken, with a note on stderr;
 * none or several online is an error naming their ids.
 *
 * An id-shaped name is first asked for alone (GetAgent): one row instead of
 * the whole fleet page by page. Only when no agent has that id is the fleet
 * listed, for a hostname that looks like an id.
 */
export async function resolveAgent(client: Client<typeof TunnelService>, name: string): Promise<Agent> {
  if (!name)
    throw new CliError("no agent given: name one by id, id prefix or hostname (rmm agents lists them)", ExitCode.Usage);
  if (isUuid(name)) {
    const found = await agentById(client, name);
    if (found) return found;
  }
  const agents = await listAllAgents(client);
  const byId = agents.find((a) => a.id === name);
  if (byId) return byId;
  const byHost = agents.filter((a) => a.hostname === name && !a.revoked);
  if (byHost.length === 1) return byHost[0]!;
  if (byHost.length > 1) {
    const online = byHost.filter((a) => a.online);
    if (online.length === 1) {
      const others = byHost.filter((a) => !a.online).map((a) => a.id);
      process.stderr.write(
        `rmm: ${byHost.length} agents have hostname ${name}; using the online one, ${online[0]!.id} ` +
          `(offline: ${others.join(", ")}; rmm agents rm ID removes a stale one)\n`,
      );
      return online[0]!;
    }
    throw new CliError(
      `${byHost.length} agents have hostname ${name} and ${online.length} of them are online: ` +
        `use an id (${byHost.map((a) => a.id).join(", ")})`,
      ExitCode.Conflict,
    );
  }
  if (name.length >= MIN_ID_PREFIX) {
    const byPrefix = agents.filter((a) => a.id.startsWith(name));
    if (byPrefix.length === 1) return byPrefix[0]!;
    if (byPrefix.length > 1)
      throw new CliError(
        `id prefix ${name} matches ${byPrefix.length} agents (${byPrefix.map((a) => a.id).join(", ")}): give more characters`,
        ExitCode.Conflict,
      );
  }
  throw new CliError(`no agent ${name}: rmm agents lists the enrolled ones`, ExitCode.NotFound);
}

/** The agent with exactly this id, or undefined when the server has none. */
export async function agentById(client: Client<typeof TunnelService>, id: string): Promise<Agent | undefined> {
  try {
    return (await client.getAgent({ agentId: id })).agent;
  } catch (err) {
    if (ConnectError.from(err).code === Code.NotFound) return undefined;
    throw err;
  }
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
