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
 * Sweeps per span of the shortest of the keeper's timers: a PING, a PING
 * deadline or an idle close is late by at most that span's quarter.
 */
const SWEEPS_PER_SPAN = 4;
/** Never sweep more often than this, whatever the settings. */
const MIN_SWEEP_MS = 10;

/** What the keeper knows of one session; 0 means "not now" for the times. */
class SessionTimes {
  /** Streams open on the session. */
  open = 0;
  /** When the session last had no open stream (epoch ms). */
  idleSince: number;
  /** PINGs are due on this session (it carried an agent stream). */
  pinging = false;
  nextPingAt = 0;
  /** The PING in flight: when it went out, and the bytes read from the peer by then. */
  pingSentAt = 0;
  readBefore = 0;

  constructor(now: number) {
    this.idleSince = now;
  }
}

/**
 * The idle close and the PINGs of every HTTP/2 session of one listener, on
 * one timer. A timer, a PING closure and a "close" listener per session
 * were about 1 KiB of heap per idle agent (heap snapshot of 1,000 agents).
 *
 * Idle: a session with no open stream for `idleMs` is closed (GOAWAY).
 * Keepalive: once `stream` is told a stream wants PINGs, one goes out every
 * `intervalMs`; one still unanswered after `timeoutMs` cuts the connection
 * only if nothing at all arrived from the peer meanwhile: on a connection
 * busy with a bulk transfer toward the peer, the PING waits behind megabytes
 * of DATA, and a peer that is still sending is not frozen.
 */
export class SessionKeeper {
  private readonly sessions = new Map<ServerHttp2Session, SessionTimes>();
  private readonly sweepMs: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly idleMs: number,
    private readonly keepalive: KeepaliveSettings,
  ) {
    this.sweepMs = Math.max(
      MIN_SWEEP_MS,
      Math.floor(Math.min(idleMs, keepalive.intervalMs, keepalive.timeoutMs) / SWEEPS_PER_SPAN),
    );
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Starts keeping `session` until it closes. */
  add(session: ServerHttp2Session): void {
    this.sessions.set(session, new SessionTimes(Date.now()));
    this.timer ??= setInterval(() => this.sweep(Date.now()), this.sweepMs).unref();
  }

  /** The session closed: nothing more to do for it. */
  delete(session: ServerHttp2Session): void {
    this.sessions.delete(session);
    if (this.sessions.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** A stream opened on `session`; with `ping`, the session is PINGed from now on. */
  streamOpened(session: ServerHttp2Session, ping: boolean): void {
    const times = this.sessions.get(session);
    if (!times) return;
    times.open++;
    if (ping && !times.pinging) {
      times.pinging = true;
      times.nextPingAt = Date.now() + this.keepalive.intervalMs;
    }
  }

  streamClosed(session: ServerHttp2Session): void {
    const times = this.sessions.get(session);
    if (times && --times.open === 0) times.idleSince = Date.now();
  }

  private sweep(now: number): void {
    for (const [session, times] of this.sessions) {
      if (session.closed || session.destroyed) continue;
      if (times.open === 0 && now - times.idleSince >= this.idleMs) {
        session.close();
        continue;
      }
      if (!times.pinging) continue;
      if (times.pingSentAt !== 0) {
        if (now - times.pingSentAt < this.keepalive.timeoutMs) continue;
        times.pingSentAt = 0;
        if (session.socket.bytesRead === times.readBefore) {
          session.destroy();
          continue;
        }
      }
      if (now >= times.nextPingAt) this.ping(session, times, now);
    }
  }

  private ping(session: ServerHttp2Session, times: SessionTimes, now: number): void {
    times.nextPingAt = now + this.keepalive.intervalMs;
    times.pingSentAt = now;
    times.readBefore = session.socket.bytesRead;
    // False: too many PINGs already unanswered; the deadline just set stands.
    session.ping(() => {
      times.pingSentAt = 0;
    });
  }
}
