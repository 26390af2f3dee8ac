import type { Client } from "@connectrpc/connect";
import type { TunnelService } from "../gen/rmm/v1/tunnel_service_pb.js";

/**
 * How often a held ephemeral session is asked for again. Defaults to 2 s:
 * well under the server's default ephemeral grace (10 s), so a pause between
 * two channels never lets the server release the session under its user.
 */
export const EPHEMERAL_KEEPALIVE_MS = 2_000;

/**
 * Runs `work` inside a tunnel session to the agent, opened ephemeral: the
 * server hands back the caller's own live session when there is one (an
 * explicit `rmm tunnel open`, another command or an assistant's call running
 * meanwhile) and closes a session it opened this way once it has had no
 * channel for its grace. So no caller ever closes a session another one still
 * uses, and none needs to close anything itself. While `work` runs, the open
 * is repeated every EPHEMERAL_KEEPALIVE_MS, which restarts the server's grace
 * between two channels (a long local hash before an upload).
 */
export async function withEphemeralSession<T>(
  client: Client<typeof TunnelService>,
  agentId: string,
  work: (sessionId: string) => Promise<T>,
): Promise<T> {
  const open = () => client.openTunnel({ agentId, ephemeral: true });
  const { session } = await open();
  // A failed re-ask is not the work's failure: if the session is gone, the work's own next call says so.
  const keepalive = setInterval(() => void open().catch(() => undefined), EPHEMERAL_KEEPALIVE_MS);
  keepalive.unref();
  try {
    return await work(session!.id);
  } finally {
    clearInterval(keepalive);
  }
}
