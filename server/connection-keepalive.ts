import type { ServerHttp2Session } from "node:http2";

export interface KeepaliveSettings {
  /** A PING goes out this often. */
  intervalMs: number;
  /** A PING unanswered this long means the peer is gone: the connection is destroyed. */
  timeoutMs: number;
}

/**
 * Server PINGs on agent connections, from the heartbeat settings: one per
 * heartbeat interval, and a peer that has not answered by the end of its
 * offline-after span is cut. A frozen agent sends no FIN, and without PINGs
 * its connection (and the writes queued on it) stayed open for good after
 * the heartbeat sweep had ended its stream.
 */
export function keepaliveFromHeartbeat(heartbeatIntervalMs: number, offlineAfterMs: number): KeepaliveSettings {
  return {
    intervalMs: heartbeatIntervalMs,
    timeoutMs: Math.max(offlineAfterMs - heartbeatIntervalMs, Math.min(heartbeatIntervalMs, offlineAfterMs)),
  };
}

/**
 * PINGs `session` until it closes; returns a function that stops them. A
 * PING still unanswered at its deadline cuts the connection only if nothing
 * at all arrived from the peer meanwhile: on a connection busy with a bulk
 * transfer toward the peer, the PING waits behind megabytes of DATA, and a
 * peer that is still sending is not frozen.
 */
export function keepSessionAlive(session: ServerHttp2Session, settings: KeepaliveSettings): () => void {
  let deadline: NodeJS.Timeout | undefined;
  const bytesRead = () => (session.destroyed ? 0 : session.socket.bytesRead);
  const ping = () => {
    if (deadline !== undefined || session.closed || session.destroyed) return;
    const readBefore = bytesRead();
    deadline = setTimeout(() => {
      deadline = undefined;
      if (bytesRead() === readBefore) session.destroy();
    }, settings.timeoutMs);
    deadline.unref();
    const sent = session.ping(() => {
      clearTimeout(deadline);
      deadline = undefined;
    });
    // Too many PINGs already unanswered: the deadline already set stands.
    if (!sent) return;
  };
  const interval = setInterval(ping, settings.intervalMs);
  interval.unref();
  const stop = () => {
    clearInterval(interval);
    clearTimeout(deadline);
  };
  session.once("close", stop);
  return stop;
}
