import type { Logger } from "../../common/logger.js";
import type { CloseReasonName, SessionRow, SessionStore } from "../store/index.js";
import type { AgentConnection } from "./agent-connection.js";
import { closeReasonEnum } from "./close-reason.js";

/**
 * A tunnel session's life on this server. The in-memory state is the truth
 * here; the row follows it, written with retries until it lands.
 *
 *   opening -> active -> closing -> closed
 *      |                    ^
 *      +--------------------+
 *
 * - `opening`: recorded (or being recorded) and sent to the agent; waiting for it to be ready.
 * - `active`: the agent serves it; channels may open.
 * - `closing`: closed for every caller: out of the indexes, the agent told, channel owners
 *   notified. Only the row's close is still to be written (the database may be away).
 * - `closed`: the row says so too; the session is forgotten.
 */
export type LifecycleState = "opening" | "active" | "closing" | "closed";

export const LEGAL_TRANSITIONS: Readonly<Record<LifecycleState, readonly LifecycleState[]>> = {
  opening: ["active", "closing"],
  active: ["closing"],
  closing: ["closed"],
  closed: [],
};

export class IllegalSessionTransitionError extends Error {
  constructor(
    readonly sessionId: string,
    readonly from: LifecycleState,
    readonly to: LifecycleState,
  ) {
    super(`illegal session transition ${from} -> ${to} for session ${sessionId}`);
  }
}

/** First delay before retrying a row write the database refused; doubles up to the maximum. */
export const WRITE_RETRY_INITIAL_MS = 1_000;
/** Largest delay between row write attempts, so a returning database sees every pending write within it. */
export const WRITE_RETRY_MAX_MS = 30_000;

/** How a session ends. */
export interface CloseSpec {
  reason: CloseReasonName;
  message: string;
  /** Audit actor (`tech:<sub>` or `system`). */
  actor: string;
  outcome: "ok" | "error";
  /** Send the agent CloseTunnel; false when the agent itself ended it or its stream is gone. */
  tellAgent: boolean;
  at?: number;
}

/** What the relay sees of an active session on every frame (no database read). */
export interface ActiveSession {
  id: string;
  agentId: string;
  technician: string;
  conn: AgentConnection;
  /** Last channel traffic either way; the idle sweep closes sessions silent for too long. */
  lastActivityAt: number;
}

export interface TrackedSession extends ActiveSession {
  readonly state: LifecycleState;
  readonly exclusive: boolean;
  /** Closed by the server once it has no channel for the grace period. */
  readonly ephemeral: boolean;
  /** The row as callers see it, kept in step with the state. */
  readonly row: SessionRow;
  /** Resolves once the close is in the database (after `closing`). */
  readonly written: Promise<void>;
}

/** The session's parts only the lifecycle changes. */
interface Session extends TrackedSession {
  state: LifecycleState;
  ephemeral: boolean;
  row: SessionRow;
  written: Promise<void>;
  /** Cuts a retry's wait short (the database is known to be back). */
  wake: (() => void) | undefined;
  recorded: Promise<unknown>;
}

export interface NewTrackedSession {
  row: SessionRow;
  conn: AgentConnection;
  /** The row's insert, already started: a close is written only once it has settled, so it cannot overtake it. */
  recorded: Promise<unknown>;
}

export type SessionEvent =
  { type: "closing"; session: TrackedSession; spec: CloseSpec } | { type: "active"; session: TrackedSession };

export interface SessionLifecycleOptions {
  /** Defaults to WRITE_RETRY_INITIAL_MS (1 s). */
  retryInitialMs?: number;
  /** Defaults to WRITE_RETRY_MAX_MS (30 s). */
  retryMaxMs?: number;
}

/**
 * Every tunnel session this server holds, and the one guarded transition
 * that moves them. Each transition owns its effects: the indexes (by id, by
 * agent, the stream's set), telling the agent, notifying listeners (channel
 * owners, a waiting open) and the row write.
 */
export class SessionLifecycle {
  private readonly byId = new Map<string, Session>();
  private readonly byAgent = new Map<string, Set<Session>>();
  private readonly listeners: Array<(event: SessionEvent) => void> = [];
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;
  private stopped = false;

  constructor(
    private readonly deps: { sessions: SessionStore; log: Logger },
    opts: SessionLifecycleOptions = {},
  ) {
    this.retryMaxMs = opts.retryMaxMs ?? WRITE_RETRY_MAX_MS;
    this.retryInitialMs = Math.min(opts.retryInitialMs ?? WRITE_RETRY_INITIAL_MS, this.retryMaxMs);
  }

  /** Called on every transition into `active` or `closing`, after the indexes changed. */
  onEvent(listener: (event: SessionEvent) => void): void {
    this.listeners.push(listener);
  }

  get(id: string): TrackedSession | undefined {
    return this.byId.get(id);
  }

  /** The session if it is active right now. */
  active(id: string): TrackedSession | undefined {
    const s = this.byId.get(id);
    return s?.state === "active" ? s : undefined;
  }

  /** Opening and active sessions on the agent. */
  liveOnAgent(agentId: string): TrackedSession[] {
    return [...(this.byAgent.get(agentId) ?? [])];
  }

  /** Every session not yet closed in the database, closing ones included. */
  all(): TrackedSession[] {
    return [...this.byId.values()];
  }

  /**
   * A new session in `opening`: indexed, and the agent asked to serve it.
   * The row is the caller's to insert (its answer decides whether the open
   * goes on); the agent is asked meanwhile so the open costs the slower of
   * the two. False from `asked` when the stream has already ended.
   */
  begin(fields: NewTrackedSession): { session: TrackedSession; asked: boolean } {
    const { row, conn } = fields;
    const session: Session = {
      id: row.id,
      agentId: row.agent_id,
      technician: row.technician,
      conn,
      lastActivityAt: row.opened_at,
      state: "opening",
      exclusive: row.exclusive === 1,
      ephemeral: row.ephemeral === 1,
      row,
      written: Promise.resolve(),
      wake: undefined,
      recorded: fields.recorded.catch(() => undefined),
    };
    this.byId.set(session.id, session);
    const onAgent = this.byAgent.get(session.agentId) ?? new Set();
    onAgent.add(session);
    this.byAgent.set(session.agentId, onAgent);
    conn.sessions.add(session.id);
    this.deps.log.info({ sessionId: session.id, agentId: session.agentId }, "-> opening");
    const asked = conn.send({ case: "openTunnel", value: { sessionId: session.id, technician: row.technician } });
    return { session, asked };
  }

  /** opening -> active: the agent is ready. The row write follows with retries, off the caller's path. */
  activate(tracked: TrackedSession, readyAt = Date.now()): void {
    const s = this.own(tracked);
    this.transition(s, "active", "agent ready");
    s.row = { ...s.row, state: "active", ready_at: readyAt };
    s.lastActivityAt = readyAt;
    this.emit({ type: "active", session: s });
    // Started after the open has answered (setImmediate runs once the response is written).
    setImmediate(() => {
      void this.writeUntilLanded(
        s,
        "record the session as active",
        () => this.deps.sessions.markActive(s.id, readyAt),
        () => s.state === "active",
      );
    });
  }

  /**
   * -> closing, at once and for everyone; then -> closed once the row is
   * written (retried with backoff until it lands). A session already closing
   * is left as it is. Resolves when the first write attempt ended: rejects
   * with its error if it failed (the close still stands and is retried).
   */
  async close(tracked: TrackedSession, spec: CloseSpec): Promise<void> {
    const s = this.own(tracked);
    if (s.state === "closing" || s.state === "closed") return s.written;
    const at = spec.at ?? Date.now();
    this.transition(s, "closing", `${spec.reason}: ${spec.message}`);
    s.row = {
      ...s.row,
      state: "closed",
      close_reason: spec.reason,
      close_message: spec.message,
      closed_at: at,
      closed_by: spec.actor,
      close_outcome: spec.outcome,
    };
    this.byAgent.get(s.agentId)?.delete(s);
    if (this.byAgent.get(s.agentId)?.size === 0) this.byAgent.delete(s.agentId);
    const wasOnStream = s.conn.sessions.delete(s.id);
    if (spec.tellAgent && wasOnStream)
      s.conn.send({ case: "closeTunnel", value: { sessionId: s.id, reason: closeReasonEnum(spec.reason) } });
    this.emit({ type: "closing", session: s, spec });
    const fields = { reason: spec.reason, message: spec.message, at, actor: spec.actor, outcome: spec.outcome };
    let first: ((err?: unknown) => void) | undefined;
    const firstAttempt = new Promise<void>((resolve, reject) => {
      first = (err) => (err === undefined ? resolve() : reject(err));
    });
    s.written = this.writeUntilLanded(
      s,
      "record the session as closed",
      // An insert whose reply was lost may still have committed: the close covers that row too.
      () => s.recorded.then(() => this.deps.sessions.close([s.id], fields)),
      () => !this.stopped,
      (err) => {
        first?.(err);
        first = undefined;
      },
    ).then(() => {
      if (s.state === "closing") this.forget(s, "row written");
    });
    return firstAttempt;
  }

  /** An ephemeral session opened explicitly: it stays until closed (the caller wrote the row). */
  makeExplicit(tracked: TrackedSession): void {
    const s = this.own(tracked);
    s.ephemeral = false;
    s.row = { ...s.row, ephemeral: 0 };
  }

  /** The database is known to answer: pending writes try again now instead of at their next backoff. */
  retryNow(): void {
    for (const s of this.byId.values()) s.wake?.();
  }

  /** At shutdown: stops retrying. What is left is closed by the next start's reconciliation. */
  stop(): void {
    this.stopped = true;
    this.retryNow();
  }

  private own(tracked: TrackedSession): Session {
    const s = this.byId.get(tracked.id);
    if (s !== tracked) throw new Error(`session ${tracked.id} is not tracked by this lifecycle`);
    return s;
  }

  /** The one place a session's state changes: guarded and logged as "from -> to". */
  private transition(s: Session, to: LifecycleState, reason: string): void {
    const from = s.state;
    if (!LEGAL_TRANSITIONS[from].includes(to)) throw new IllegalSessionTransitionError(s.id, from, to);
    s.state = to;
    this.deps.log.info({ sessionId: s.id, agentId: s.agentId, from, to, reason }, `${from} -> ${to}`);
  }

  private forget(s: Session, reason: string): void {
    this.transition(s, "closed", reason);
    this.byId.delete(s.id);
  }

  private emit(event: SessionEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.deps.log.error({ err, sessionId: event.session.id }, "session listener failed");
      }
    }
  }

  /**
   * Runs `write` until it resolves or `wanted()` turns false, waiting with
   * doubling delays between attempts. Never rejects; `onFirst` hears how the
   * first attempt went.
   */
  private async writeUntilLanded(
    s: Session,
    what: string,
    write: () => Promise<unknown>,
    wanted: () => boolean,
    onFirst?: (err?: unknown) => void,
  ): Promise<void> {
    for (
      let delayMs = this.retryInitialMs, attempt = 1;
      ;
      delayMs = Math.min(delayMs * 2, this.retryMaxMs), attempt++
    ) {
      try {
        await write();
        if (attempt === 1) onFirst?.();
        else this.deps.log.info({ sessionId: s.id, attempt }, `could ${what} again`);
        return;
      } catch (err) {
        if (attempt === 1) onFirst?.(err);
        if (!wanted()) return;
        this.deps.log.warn({ err, sessionId: s.id, retryInMs: delayMs }, `could not ${what}; will retry`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, delayMs);
          timer.unref();
          function done(): void {
            clearTimeout(timer);
            resolve();
          }
          s.wake = done;
        });
        s.wake = undefined;
        if (!wanted()) return;
      }
    }
  }
}
