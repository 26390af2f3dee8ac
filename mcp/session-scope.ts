import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { SessionState, type Agent, type TunnelService } from "../gen/rmm/v1/tunnel_service_pb.js";

/**
 * The one seam through which MCP opens and closes tunnel sessions: runs
 * `work` inside a session to the agent (the technician's own active one when
 * there is one, else a new one closed again once `work` settles). `rmm mcp`
 * passes the CLI's own scope (cli/session-scope.ts); the server's `/mcp`
 * passes apiSessionScope. Moving to sessions the server closes by itself
 * changes only the scope passed in.
 */
export type SessionScope = <T>(agent: Agent, work: (sessionId: string) => Promise<T>) => Promise<T>;

/** The same rules as the CLI's scope, on any TunnelService client (the server cannot import cli/). */
export function apiSessionScope(client: Client<typeof TunnelService>, subject: string): SessionScope {
  return async (agent, work) => {
    const reused = await ownActiveSession(client, subject, agent);
    if (reused) return work(reused);
    const { session } = await client.openTunnel({ agentId: agent.id });
    const sessionId = session!.id;
    try {
      return await work(sessionId);
    } finally {
      await client.closeTunnel({ sessionId }).catch(() => undefined);
    }
  };
}

async function ownActiveSession(
  client: Client<typeof TunnelService>,
  subject: string,
  agent: Agent,
): Promise<string | undefined> {
  if (!agent.activeSessionId) return undefined;
  try {
    const { session } = await client.getTunnelStatus({ sessionId: agent.activeSessionId });
    return session?.state === SessionState.ACTIVE && session.technician === subject ? session.id : undefined;
  } catch (err) {
    // Someone else's session: OpenTunnel will say AlreadyExists and name it.
    if (err instanceof ConnectError && err.code === Code.PermissionDenied) return undefined;
    throw err;
  }
}
