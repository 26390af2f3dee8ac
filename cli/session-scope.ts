import { Code, ConnectError } from "@connectrpc/connect";
import { SessionState, type Agent } from "../gen/rmm/v1/tunnel_service_pb.js";
import { requireOnline, resolveAgent } from "./agent-resolver.js";
import type { CliContext } from "./cli-context.js";

/**
 * Runs `work` inside a tunnel session to the agent: the technician's own
 * active session when there is one (it stays open), otherwise a new one that
 * is closed again afterwards, whatever happens in between.
 */
export async function withSession<T>(
  ctx: CliContext,
  agentName: string,
  work: (sessionId: string, agent: Agent) => Promise<T>,
): Promise<T> {
  const agent = await resolveAgent(ctx.client, agentName);
  requireOnline(agent);
  const reused = await ownActiveSession(ctx, agent);
  if (reused) return work(reused, agent);
  const { session } = await ctx.client.openTunnel({ agentId: agent.id });
  const sessionId = session!.id;
  try {
    return await work(sessionId, agent);
  } finally {
    await ctx.client.closeTunnel({ sessionId }).catch(() => undefined);
  }
}

async function ownActiveSession(ctx: CliContext, agent: Agent): Promise<string | undefined> {
  if (!agent.activeSessionId) return undefined;
  try {
    const { session } = await ctx.client.getTunnelStatus({ sessionId: agent.activeSessionId });
    return session?.state === SessionState.ACTIVE && session.technician === ctx.subject ? session.id : undefined;
  } catch (err) {
    // Someone else's session: OpenTunnel will say AlreadyExists and name it.
    if (err instanceof ConnectError && err.code === Code.PermissionDenied) return undefined;
    throw err;
  }
}
