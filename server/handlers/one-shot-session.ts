import { Code, ConnectError } from "@connectrpc/connect";
import type { Technician } from "../auth/claims.js";
import type { SessionService } from "../services/session-service.js";

/** A request that names a session, or an agent instead (ChannelOpenParams and ExecRequest). */
export interface SessionTarget {
  sessionId: string;
  agentId: string;
}

/**
 * The session a channel open or an Exec runs on. A one-shot request names the
 * agent (agent_id) instead: the technician's own live session on it is used,
 * or one is opened as OpenTunnel with `ephemeral` set opens it, so the same
 * refusals, ownership, audit and exclusive rules apply, and the server's
 * ephemeral grace closes it once no channel is left on it. The request is
 * given that session's id; one that names a session is left as it is.
 */
export async function oneShotSession(
  sessions: SessionService,
  tech: Technician,
  target: SessionTarget,
  signal: AbortSignal,
): Promise<void> {
  if (target.agentId === "") return;
  if (target.sessionId !== "") {
    throw new ConnectError(
      "set session_id (a session you hold) or agent_id (a one-shot call), not both",
      Code.InvalidArgument,
    );
  }
  const { session } = await sessions.open(tech, { agentId: target.agentId, ephemeral: true }, signal);
  target.sessionId = session.id;
}
