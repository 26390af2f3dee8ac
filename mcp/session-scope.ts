import type { Client } from "@connectrpc/connect";
import { withEphemeralSession } from "../client/ephemeral-session.js";
import type { Agent, TunnelService } from "../gen/rmm/v1/tunnel_service_pb.js";

/**
 * The one seam through which MCP holds tunnel sessions: runs `work` inside a
 * session to the agent, held while `work` runs. Both transports (`rmm mcp`
 * and the server's `/mcp`) use ephemeralSessionScope; tests pass their own.
 */
export type SessionScope = <T>(agent: Agent, work: (sessionId: string) => Promise<T>) => Promise<T>;

/**
 * Sessions opened ephemeral on `client` (the one marking calls as made
 * through MCP), exactly as the CLI's commands open them: the technician's own
 * live session is reused, and the server releases a session once it has had
 * no channel for its grace. So an assistant's session is never closed under
 * another command of the same technician, nor theirs under it.
 */
export function ephemeralSessionScope(client: Client<typeof TunnelService>): SessionScope {
  return (agent, work) => withEphemeralSession(client, agent.id, work);
}
