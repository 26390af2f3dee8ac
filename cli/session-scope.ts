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
  const open = () => ctx.client.openTunnel({ agentId: agent.id, ephemeral: true });
  const { session } = await open();
  // Between two calls (a long local hash before an upload) the session has no channel: asking
  // again restarts the server's grace, so it is not released under the command.
  const keepalive = setInterval(() => void open().catch(() => undefined), EPHEMERAL_KEEPALIVE_MS);
  keepalive.unref();
  try {
    return await work(session!.id, agent);
  } finally {
    clearInterval(keepalive);
  }
}

/** Well under the server's default ephemeral grace (10 s). */
const EPHEMERAL_KEEPALIVE_MS = 2_000;
