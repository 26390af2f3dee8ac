import type { Logger } from "../common/logger.js";

/**
 * The agent's modes. One stream carries both heartbeat and tunnel mode, so
 * switching between them never reconnects. A connected agent is in
 * `heartbeat` while it serves no session and in `tunnel` while it serves any
 * (each session with its own channels); adding or ending one session while
 * others stay is tunnel -> tunnel.
 *
 *   idle -> connecting -> heartbeat <-> tunnel (<-> tunnel)
 *              ^              |           |
 *              +-- backoff <--+-----------+      (any mode -> stopped)
 *
 * The work a connected agent does is the `sessions` list; another kind of
 * work (a job step run without a session, say) would be a second list beside
 * it, with its own enter/leave effects diffed the same way, and a connected
 * mode named for whether any work is held.
 */
export type AgentMode =
  | { type: "idle" }
  | { type: "connecting"; attempt: number }
  | { type: "heartbeat" }
  | { type: "tunnel"; sessions: readonly string[] }
  | { type: "backoff"; delayMs: number; reason: string }
  | { type: "stopped" };

export type ModeName = AgentMode["type"];

export const LEGAL: Readonly<Record<ModeName, readonly ModeName[]>> = {
  idle: ["connecting", "stopped"],
  connecting: ["heartbeat", "backoff", "stopped"],
  heartbeat: ["tunnel", "backoff", "stopped"],
  tunnel: ["tunnel", "heartbeat", "backoff", "stopped"],
  backoff: ["connecting", "stopped"],
  stopped: [],
};

export class IllegalTransitionError extends Error {
  constructor(
    readonly from: ModeName,
    readonly to: ModeName,
    detail = "",
  ) {
    super(`illegal agent mode transition ${from} -> ${to}${detail}`);
  }
}

/** Side effects of entering and leaving modes, owned by the agent. */
export interface ModeEffects {
  /** A connected mode was entered from connecting: start heartbeats. */
  connected(): void;
  /** A session starts being served. */
  enterSession(sessionId: string): void;
  /** A session stops being served: close its channels and end every process they started. */
  leaveSession(sessionId: string, reason: string): void;
  /** Leaving a connected mode for backoff or stopped: stop heartbeats. */
  disconnected(reason: string): void;
}

const CONNECTED: ReadonlySet<ModeName> = new Set(["heartbeat", "tunnel"]);

function sessionsOf(mode: AgentMode): readonly string[] {
  return mode.type === "tunnel" ? mode.sessions : [];
}

/** The one place the agent's mode changes: guarded, logged as "from -> to", with its effects. */
export class ModeMachine {
  private current: AgentMode = { type: "idle" };

  constructor(
    private readonly effects: ModeEffects,
    private readonly log: Logger,
  ) {}

  get mode(): AgentMode {
    return this.current;
  }

  /** The sessions served right now. */
  get sessions(): readonly string[] {
    return sessionsOf(this.current);
  }

  transition(next: AgentMode, reason = ""): void {
    const from = this.current;
    if (!LEGAL[from.type].includes(next.type)) throw new IllegalTransitionError(from.type, next.type);
    if (next.type === "tunnel" && (next.sessions.length === 0 || new Set(next.sessions).size !== next.sessions.length))
      throw new IllegalTransitionError(from.type, next.type, ": tunnel mode needs distinct sessions, at least one");
    this.current = next;
    const before = sessionsOf(from);
    const after = new Set(sessionsOf(next));
    const left = before.filter((id) => !after.has(id));
    const entered = [...after].filter((id) => !before.includes(id));
    this.log.info(
      { from: from.type, to: next.type, reason, entered, left, sessions: after.size },
      `${from.type} -> ${next.type}`,
    );
    for (const id of left) this.effects.leaveSession(id, reason || `entering ${next.type}`);
    if (from.type === "connecting" && CONNECTED.has(next.type)) this.effects.connected();
    for (const id of entered) this.effects.enterSession(id);
    if (CONNECTED.has(from.type) && (next.type === "backoff" || next.type === "stopped"))
      this.effects.disconnected(reason);
  }

  /** Starts serving a session: heartbeat -> tunnel, or tunnel -> tunnel. False if not connected or already served. */
  addSession(sessionId: string, reason: string): boolean {
    if (!CONNECTED.has(this.current.type) || this.sessions.includes(sessionId)) return false;
    this.transition({ type: "tunnel", sessions: [...this.sessions, sessionId] }, reason);
    return true;
  }

  /** Stops serving a session: tunnel -> tunnel, or tunnel -> heartbeat for the last. False if not served. */
  removeSession(sessionId: string, reason: string): boolean {
    if (!this.sessions.includes(sessionId)) return false;
    const rest = this.sessions.filter((id) => id !== sessionId);
    this.transition(rest.length > 0 ? { type: "tunnel", sessions: rest } : { type: "heartbeat" }, reason);
    return true;
  }
}
