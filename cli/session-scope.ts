import type { Agent } from "../gen/rmm/v1/tunnel_service_pb.js";
import { requireOnline, resolveAgent } from "./agent-resolver.js";
import type { CliContext } from "./cli-context.js";

/**
 * Runs `work` inside a tunnel session to the agent, opened ephemeral: the
 * server hands back the technician's own live session when there is one
 * (an explicit `rmm tunnel open`, or another command running meanwhile) and
 * closes a session it opened this way once its last channel has closed. So
 * no command ever closes a session another command still uses, and none
 * needs to close anything itself.
 */
export async function withSession<T>(
  ctx: CliContext,
  agentName: string,
  work: (sessionId: string, agent: Agent) => Promise<T>,
): Promise<T> {
  const agent = await resolveAgent(ctx.client, agentName);
  requireOnline(agent);
  const { session } = await ctx.client.openTunnel({ agentId: agent.id, ephemeral: true });
  return work(session!.id, agent);
}
