import { Code, ConnectError } from "@connectrpc/connect";
import type { ChannelClient } from "../client/channel-client.js";
import { isUuid } from "../common/ids.js";
import { agentById, requireOnline, resolveAgent } from "./agent-resolver.js";
import type { CliContext } from "./cli-context.js";

/** Where a one-shot channel goes: no session, the agent (ChannelOpenParams.agent_id). */
export interface OneShotTarget {
  sessionId: "";
  agentId: string;
}

/**
 * Opens a one-shot channel to the agent named by id, id prefix or hostname:
 * the server finds or opens the session itself, so an id costs one call in
 * all. The fleet is listed only when the name is not an agent's id, and the
 * agent is read only to explain a refusal (offline, revoked, not enrolled).
 * `open` runs at most once per agent it is given, and a second time only
 * when the server said no agent had the first id: a command never runs twice.
 */
export async function openOneShotChannel(
  ctx: CliContext,
  agentName: string,
  open: (target: OneShotTarget) => Promise<ChannelClient>,
): Promise<ChannelClient> {
  if (isUuid(agentName)) {
    try {
      return await open({ sessionId: "", agentId: agentName });
    } catch (err) {
      const code = ConnectError.from(err).code;
      if (code !== Code.NotFound && code !== Code.FailedPrecondition) throw err;
      // The same codes may come from the agent refusing the channel: the agent's record says which.
      const agent = await agentById(ctx.client, agentName);
      if (agent) {
        requireOnline(agent);
        throw err;
      }
    }
  }
  const agent = await resolveAgent(ctx.client, agentName);
  requireOnline(agent);
  return open({ sessionId: "", agentId: agent.id });
}
