import type { Logger } from "../common/logger.js";

/**
 * The agent's modes. One stream carries both heartbeat and tunnel mode, so
 * switching between them never reconnects.
 *
 *   idle -> connecting -> heartbeat <-> tunnel
 *              ^              |           |
 *              +-- backoff <--+-----------+      (any mode -> stopped)
 */
export type AgentMode =
  | { type: "idle" }
  | { type: "connecting"; attempt: number }
  | { type: "heartbeat" }
  | { type: "tunnel"; sessionId: string }
  | { type: "backoff"; delayMs: number; reason: string }
  | { type: "stopped" };

export type ModeName = AgentMode["type"];

const LEGAL: Record<ModeName, readonly ModeName[]> = {
  idle: ["connecting", "stopped"],
  connecting: ["heartbeat", "backoff", "stopped"],
  heartbeat: ["tunnel", "backoff", "stopped"],
  tunnel: ["heartbeat", "backoff", "stopped"],
  backoff: ["connecting", "stopped"],
  stopped: [],
};

export class IllegalTransitionError extends Error {
  constructor(
    readonly from: ModeName,
    readonly to: ModeName,
  ) {
    super(`illegal agent mode transition ${from} -> ${to}`);
  }
}

/** Side effects of entering and leaving modes, owned by the agent. */
export interface ModeEffects {
  /** Leaving tunnel mode: close every channel and end every process it started. */
  leaveTunnel(sessionId: string, reason: string): void;
  /** Entering tunnel mode. */
  enterTunnel(sessionId: string): void;
  /** Leaving a connected mode for backoff or stopped: stop heartbeats. */
  disconnected(reason: string): void;
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

  transition(next: AgentMode, reason = ""): void {
    const from = this.current;
    if (!LEGAL[from.type].includes(next.type)) throw new IllegalTransitionError(from.type, next.type);
    this.current = next;
    this.log.info({ from: from.type, to: next.type, reason }, `${from.type} -> ${next.type}`);
    if (from.type === "tunnel") this.effects.leaveTunnel(from.sessionId, reason || `entering ${next.type}`);
    if (next.type === "tunnel") this.effects.enterTunnel(next.sessionId);
    if ((from.type === "heartbeat" || from.type === "tunnel") && (next.type === "backoff" || next.type === "stopped")) {
      this.effects.disconnected(reason);
    }
  }
}
