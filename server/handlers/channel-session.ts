import { Code, ConnectError } from "@connectrpc/connect";
import type { ChannelOpenParams } from "../../gen/rmm/v1/tunnel_service_pb.js";
import type { Technician } from "../auth/claims.js";
import type { SessionService } from "../services/session-service.js";

/**
 * The session an OpenChannel `open` runs on. A one-shot open names the agent
 * (agent_id) instead: the technician's own live session on it is used, or one
 * is opened as OpenTunnel with `ephemeral` set opens it, so the same refusals,
 * ownership, audit and exclusive rules apply, and the server's ephemeral grace
 * closes it once no channel is left on it. `open` is given that session's id.
 */
export async function channelSession(
  sessions: SessionService,
  tech: Technician,
  open: ChannelOpenParams,
  signal: AbortSignal,
): Promise<void> {
  if (open.agentId === "") return;
  if (open.sessionId !== "") {
    throw new ConnectError(
      "set session_id (a session you hold) or agent_id (a one-shot channel), not both",
      Code.InvalidArgument,
    );
  }
  const { session } = await sessions.open(tech, { agentId: open.agentId, ephemeral: true }, signal);
  open.sessionId = session.id;
}
