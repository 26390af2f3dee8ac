import { withEphemeralSession } from "../client/ephemeral-session.js";
import type { Agent } from "../gen/rmm/v1/tunnel_service_pb.js";
import { requireOnline, resolveAgent } from "./agent-resolver.js";
import type { CliContext } from "./cli-context.js";

/**
 * Runs `work` inside an ephemeral tunnel session to the agent named by id or
 * hostname (see withEphemeralSession: the technician's own live session is
 * reused, and the server releases the session once its last channel closed).
 */
export async function withSession<T>(
  ctx: CliContext,
  agentName: string,
  work: (sessionId: string, agent: Agent) => Promise<T>,
): Promise<T> {
  const agent = await resolveAgent(ctx.client, agentName);
  requireOnline(agent);
  return withEphemeralSession(ctx.client, agent.id, (sessionId) => work(sessionId, agent));
}
