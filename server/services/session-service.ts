import { randomUUID } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { isUuid } from "../../common/ids.js";
import type { Logger } from "../../common/logger.js";
import type { Technician } from "../auth/claims.js";
import {
  LiveSessionExistsError,
  type AgentStore,
  type CloseReasonName,
  type SessionRow,
  type SessionStore,
} from "../store/index.js";
import type { AgentConnection } from "./agent-connection.js";
import type { AgentRegistry } from "./agent-registry.js";
import { closeReasonEnum } from "./close-reason.js";
import { actorOf, type AuditLog } from "./audit-log.js";

export interface SessionServiceOptions {
  /** How long OpenTunnel waits for the agent to answer before closing the session as `timeout`. Defaults to 10 s. */
  openTimeoutMs?: number;
  /** First delay before retrying a cleanup the database refused. Defaults to 1 s, doubling to 30 s. */
  cleanupRetryMs?: number;
  /** An active session with no channel traffic for this long is closed as `idle_timeout`. Defaults to 30 min. */
  idleTimeoutMs?: number;
}

export const OPEN_TIMEOUT_MS = 10_000;
export const SESSION_IDLE_TIMEOUT_MS = 30 * 60_000;
const CLEANUP_RETRY_MS = 1_000;
const CLEANUP_RETRY_MAX_MS = 30_000;

/** How an agent answered a tunnel open. */
type OpenOutcome = { type: "ready" } | { type: "error"; code: number; message: string } | { type: "disconnected" };

/** A session in state active, as the relay checks it on every frame (no database read). */
export interface ActiveSession {
  id: string;
  agentId: string;
  technician: string;
  conn: AgentConnection;
  /** Last channel traffic either way; the idle sweep closes sessions silent for too long. */
  lastActivityAt: number;
}

/** An active session with the row OpenTunnel reported, so a close by its owner needs no read. */
interface HeldSession extends ActiveSession {
  row: SessionRow;
}

export interface SessionServiceDeps {
  agents: AgentStore;
  sessions: SessionStore;
  audit: AuditLog;
  registry: AgentRegistry;
  log: Logger;
}

/**
 * Tunnel sessions: opening one on an agent's stream, closing it, and making
 * sure none outlives the stream it was opened on. A session is `opening` from
 * the moment it is recorded until the agent says ready, `active` until it is
 * closed, and `closed` forever after; the database allows one live (opening or
 * active) session per agent.
 */
export class SessionService {
  private readonly pendingOpens = new Map<string, (outcome: OpenOutcome) => void>();
  private readonly openTimeoutMs: number;
  private readonly cleanupRetryMs: number;
  readonly idleTimeoutMs: number;
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private readonly active = new Map<string, HeldSession>();
  private readonly endedListeners: Array<(sessionId: string, message: string) => void> = [];
  /**
   * opening -> active writes still in flight, by session. OpenTunnel answers
   * once the agent is ready without waiting for that write (on InnoDB a
   * commit is an fsync, the largest part of the open); every later read of
   * the session waits for it, so no caller ever sees the row behind what
   * OpenTunnel said.
   */
  private readonly readyWrites = new Map<string, Promise<void>>();

  constructor(
    private readonly deps: SessionServiceDeps,
    opts: SessionServiceOptions = {},
  ) {
    this.openTimeoutMs = opts.openTimeoutMs ?? OPEN_TIMEOUT_MS;
    this.cleanupRetryMs = opts.cleanupRetryMs ?? CLEANUP_RETRY_MS;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? SESSION_IDLE_TIMEOUT_MS;
  }

  async open(tech: Technician, agentId: string, signal: AbortSignal): Promise<SessionRow> {
    if (agentId === "") throw new ConnectError("agent_id is required", Code.InvalidArgument);
    if (!isUuid(agentId)) throw new ConnectError(`agent_id "${agentId}" is not a UUID`, Code.InvalidArgument);
    const { agents, sessions, audit, registry } = this.deps;
    const actor = actorOf.technician(tech.subject);
    const refuse = async (code: Code, reason: string): Promise<never> => {
      await audit.recordBestEffort({ actor, action: "tunnel.open", outcome: "refused", agentId, reason });
      throw new ConnectError(reason, code);
    };

    // Why an agent cannot take a tunnel, read only on that path: the happy
    // path costs two statements (the guarded insert below and markActive).
    const refuseUnavailable = async (): Promise<never> => {
      const agent = await agents.get(agentId);
      if (!agent) throw new ConnectError(`agent ${agentId} is not enrolled`, Code.NotFound);
      if (agent.revoked_at !== null)
        return refuse(Code.FailedPrecondition, `agent ${agentId} (${agent.hostname}) has been revoked`);
      const seen =
        agent.last_seen_at === null
          ? "never seen online"
          : `offline since ${new Date(agent.last_seen_at).toISOString()}`;
      return refuse(Code.FailedPrecondition, `agent ${agentId} (${agent.hostname}) is ${seen}`);
    };
    const conn = registry.get(agentId);
    if (!conn) return refuseUnavailable();

    const row = { id: randomUUID(), agentId, technician: tech.subject, at: Date.now() };
    // The agent is asked while the row is written, so an open costs the
    // slower of the two rather than both in turn. Nothing can use the
    // tunnel before the row exists: channels need the session active, and
    // it becomes active only below. A stream already holding a session is
    // not asked at all (the agent would refuse, and the database's answer
    // names the live session), and an agent asked for a session the
    // database then refuses is told to close it.
    const askedEarly = conn.sessions.size === 0;
    const answer = askedEarly ? this.awaitAgent(conn, row.id, tech, signal) : undefined;
    const retract = (): void => {
      this.pendingOpens.get(row.id)?.({ type: "disconnected" });
      if (conn.sessions.delete(row.id))
        conn.send({
          case: "closeTunnel",
          value: { sessionId: row.id, reason: closeReasonEnum("closed_by_technician") },
        });
    };
    let session: SessionRow;
    try {
      // One statement: inserted only for an enrolled, unrevoked agent, and
      // its audit entry written by the database in the same statement.
      const created = await sessions.createForActiveAgent(row);
      if (!created) {
        retract();
        return await refuseUnavailable();
      }
      session = created;
    } catch (err) {
      retract();
      if (!(err instanceof LiveSessionExistsError)) throw err;
      const live = await sessions.liveForAgent(agentId);
      return refuse(
        Code.AlreadyExists,
        live
          ? `agent ${agentId} already has an active session ${live.id} (opened by ${live.technician} at ${new Date(live.opened_at).toISOString()})`
          : `agent ${agentId} already has an active session`,
      );
    }

    const outcome = await (answer ?? this.awaitAgent(conn, session.id, tech, signal));
    if (outcome.type === "ready") {
      if (!conn.sessions.has(session.id)) {
        // Closed while we waited (agent gone, or a close raced us): report what happened.
        const current = await sessions.get(session.id);
        throw new ConnectError(
          `session ${session.id} closed before it became ready (${current?.close_reason ?? "unknown"})`,
          Code.Aborted,
        );
      }
      const readyAt = Date.now();
      const activeRow: SessionRow = { ...session, state: "active", ready_at: readyAt };
      this.active.set(session.id, {
        id: session.id,
        agentId,
        technician: tech.subject,
        conn,
        lastActivityAt: readyAt,
        row: activeRow,
      });
      // Started after this call has answered (setImmediate runs once the response is written), so
      // the write's query building is not on the caller's path.
      const write = new Promise<void>((resolve) => setImmediate(resolve))
        .then(() => this.recordReady(session.id, readyAt))
        .finally(() => this.readyWrites.delete(session.id));
      this.readyWrites.set(session.id, write);
      return activeRow;
    }
    const failure = this.failureOf(outcome, agentId, session.id, signal);
    await this.closeSessions([session.id], failure.reason, failure.message, agentId, actor, "error");
    conn.sessions.delete(session.id);
    if (failure.reason === "timeout" || failure.reason === "closed_by_technician") {
      conn.send({ case: "closeTunnel", value: { sessionId: session.id, reason: closeReasonEnum(failure.reason) } });
    }
    throw new ConnectError(failure.message, failure.code);
  }

  async close(tech: Technician, sessionId: string): Promise<SessionRow> {
    // An active session this technician opened is known without a read.
    const held = this.active.get(sessionId);
    const ownHeld = held?.technician === tech.subject ? held : undefined;
    if (ownHeld) await this.readyWrites.get(sessionId);
    const session = ownHeld ? ownHeld.row : await this.owned(tech, sessionId, "close");
    if (session.state === "closed") return session;
    const message = `closed by ${tech.subject}`;
    const at = Date.now();
    const closed = await this.closeSessions(
      [session.id],
      "closed_by_technician",
      message,
      session.agent_id,
      actorOf.technician(tech.subject),
      "ok",
      at,
    );
    const conn = this.deps.registry.get(session.agent_id);
    if (conn?.sessions.delete(session.id)) {
      conn.send({
        case: "closeTunnel",
        value: { sessionId: session.id, reason: closeReasonEnum("closed_by_technician") },
      });
    }
    this.pendingOpens.get(session.id)?.({ type: "disconnected" });
    if (closed === 0) return (await this.deps.sessions.get(session.id)) ?? session;
    return {
      ...session,
      state: "closed",
      close_reason: "closed_by_technician",
      close_message: message,
      closed_at: at,
      closed_by: actorOf.technician(tech.subject),
      close_outcome: "ok",
    };
  }

  async status(tech: Technician, sessionId: string): Promise<SessionRow> {
    return this.owned(tech, sessionId, "status");
  }

  /** The session if it is active on a live stream right now. */
  activeSession(sessionId: string): ActiveSession | undefined {
    return this.active.get(sessionId);
  }

  /** Closes every active session silent for longer than the idle timeout, telling its agent. */
  async closeIdle(now: number): Promise<void> {
    const idle = [...this.active.values()].filter((s) => now - s.lastActivityAt > this.idleTimeoutMs);
    for (const s of idle) {
      s.conn.sessions.delete(s.id);
      s.conn.send({ case: "closeTunnel", value: { sessionId: s.id, reason: closeReasonEnum("idle_timeout") } });
      await this.closeWithRetry(
        [s.id],
        "idle_timeout",
        `no tunnel traffic for ${Math.round((now - s.lastActivityAt) / 1000)} s`,
        s.agentId,
      );
    }
  }

  /** Called as each session stops being active, before its row is written. */
  onSessionEnded(listener: (sessionId: string, message: string) => void): void {
    this.endedListeners.push(listener);
  }

  /** The agent reports it entered tunnel mode for a session. */
  tunnelReady(conn: AgentConnection, sessionId: string): void {
    const pending = this.pendingOpens.get(sessionId);
    if (!pending || !conn.sessions.has(sessionId)) {
      this.deps.log.warn(
        { agentId: conn.agentId, sessionId },
        "agent reported ready for a session it was not asked to open",
      );
      return;
    }
    pending({ type: "ready" });
  }

  tunnelError(conn: AgentConnection, sessionId: string, code: number, message: string): void {
    const pending = this.pendingOpens.get(sessionId);
    if (pending && conn.sessions.has(sessionId)) {
      pending({ type: "error", code, message });
      return;
    }
    if (conn.sessions.delete(sessionId)) {
      void this.closeWithRetry([sessionId], "agent_error", `agent error: ${message}`, conn.agentId);
      return;
    }
    this.deps.log.warn(
      { agentId: conn.agentId, sessionId, code, message },
      "agent reported an error for a session it does not hold",
    );
  }

  /** The agent left tunnel mode by itself. */
  tunnelClosed(conn: AgentConnection, sessionId: string, message: string): void {
    if (!conn.sessions.delete(sessionId)) return;
    this.pendingOpens.get(sessionId)?.({
      type: "error",
      code: Code.Aborted,
      message: message || "agent closed the tunnel",
    });
    void this.closeWithRetry([sessionId], "agent_error", message || "agent closed the tunnel", conn.agentId);
  }

  /**
   * A new stream for the agent: sessions still live in the database for it
   * belong to a stream that is gone (the tunnel lived on that stream), so they
   * are closed.
   */
  async streamStarted(conn: AgentConnection): Promise<void> {
    const live = await this.deps.sessions.liveIds(conn.agentId);
    const stale = live.filter((id) => !this.pendingOpens.has(id));
    if (stale.length > 0)
      await this.closeWithRetry(stale, "agent_disconnected", "agent reconnected on a new stream", conn.agentId);
  }

  /** Every session opened on a stream ends with it. */
  async streamEnded(conn: AgentConnection, message = "agent stream ended"): Promise<void> {
    const ids = [...conn.sessions];
    conn.sessions.clear();
    for (const id of ids) this.pendingOpens.get(id)?.({ type: "disconnected" });
    if (ids.length > 0) await this.closeWithRetry(ids, "agent_disconnected", message, conn.agentId);
  }

  /** At start: sessions a previous server left live cannot have a stream any more. */
  async closeLeftovers(): Promise<number> {
    const ids = await this.deps.sessions.liveIds();
    if (ids.length > 0)
      await this.closeSessions(
        ids,
        "server_restart",
        "left open by a server that stopped",
        undefined,
        actorOf.system,
        "ok",
      );
    return ids.length;
  }

  /** At shutdown: close this server's live sessions now rather than at the next start. */
  async closeAllForShutdown(): Promise<void> {
    for (const timer of this.retryTimers) clearTimeout(timer);
    this.retryTimers.clear();
    for (const resolve of this.pendingOpens.values()) resolve({ type: "disconnected" });
    const ids = await this.deps.sessions.liveIds();
    if (ids.length > 0)
      await this.closeSessions(ids, "server_restart", "server shut down", undefined, actorOf.system, "ok");
  }

  private async owned(tech: Technician, sessionId: string, what: string): Promise<SessionRow> {
    if (sessionId === "") throw new ConnectError("session_id is required", Code.InvalidArgument);
    if (!isUuid(sessionId)) throw new ConnectError(`session_id "${sessionId}" is not a UUID`, Code.InvalidArgument);
    await this.readyWrites.get(sessionId);
    const session = await this.deps.sessions.get(sessionId);
    if (!session) throw new ConnectError(`session ${sessionId} not found`, Code.NotFound);
    if (session.technician !== tech.subject && tech.role !== "admin") {
      const reason = `session ${sessionId} belongs to another technician`;
      await this.deps.audit.recordBestEffort({
        actor: actorOf.technician(tech.subject),
        action: what === "close" ? "tunnel.close" : "tunnel.status",
        outcome: "refused",
        agentId: session.agent_id,
        sessionId,
        reason,
      });
      throw new ConnectError(reason, Code.PermissionDenied);
    }
    return session;
  }

  /**
   * Writes opening -> active, retrying with doubling delays while the
   * database refuses. Never rejects. A session closed meanwhile stays closed
   * (the write only moves opening rows); one the database never hears about
   * is closed by the next start's reconciliation like any other.
   */
  private async recordReady(sessionId: string, readyAt: number): Promise<void> {
    for (let delayMs = this.cleanupRetryMs; ; delayMs = Math.min(delayMs * 2, CLEANUP_RETRY_MAX_MS)) {
      try {
        await this.deps.sessions.markActive(sessionId, readyAt);
        return;
      } catch (err) {
        if (!this.active.has(sessionId)) return;
        this.deps.log.warn(
          { err, sessionId, retryInMs: delayMs },
          "could not record the session as active; will retry",
        );
        await new Promise((resolve) => setTimeout(resolve, delayMs).unref());
      }
    }
  }

  private awaitAgent(
    conn: AgentConnection,
    sessionId: string,
    tech: Technician,
    signal: AbortSignal,
  ): Promise<OpenOutcome | { type: "timeout" } | { type: "cancelled" }> {
    return new Promise((resolve) => {
      const finish = (outcome: OpenOutcome | { type: "timeout" } | { type: "cancelled" }) => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        this.pendingOpens.delete(sessionId);
        resolve(outcome);
      };
      const timer = setTimeout(() => finish({ type: "timeout" }), this.openTimeoutMs);
      const onAbort = () => finish({ type: "cancelled" });
      signal.addEventListener("abort", onAbort);
      this.pendingOpens.set(sessionId, finish);
      conn.sessions.add(sessionId);
      // The stream may have ended between the registry lookup and now.
      if (!conn.send({ case: "openTunnel", value: { sessionId, technician: tech.subject } }))
        finish({ type: "disconnected" });
      if (signal.aborted) finish({ type: "cancelled" });
    });
  }

  private failureOf(
    outcome: Exclude<OpenOutcome, { type: "ready" }> | { type: "timeout" } | { type: "cancelled" },
    agentId: string,
    sessionId: string,
    signal: AbortSignal,
  ): { reason: CloseReasonName; code: Code; message: string } {
    switch (outcome.type) {
      case "error":
        return {
          reason: "agent_error",
          code: outcome.code > 0 && outcome.code <= 16 ? (outcome.code as Code) : Code.Unknown,
          message: `agent ${agentId} refused the tunnel: ${outcome.message}`,
        };
      case "disconnected":
        return {
          reason: "agent_disconnected",
          code: Code.Unavailable,
          message: `agent ${agentId} disconnected before the tunnel was ready; session ${sessionId} closed`,
        };
      case "timeout":
        return {
          reason: "timeout",
          code: Code.DeadlineExceeded,
          message: `agent ${agentId} did not answer within ${this.openTimeoutMs} ms; session ${sessionId} closed`,
        };
      case "cancelled":
        return {
          reason: "closed_by_technician",
          code: signal.reason instanceof ConnectError ? signal.reason.code : Code.Canceled,
          message: `open cancelled by the caller; session ${sessionId} closed`,
        };
    }
  }

  private forget(ids: readonly string[], message: string): void {
    for (const id of ids) {
      if (!this.active.delete(id)) continue;
      for (const listener of this.endedListeners) listener(id, message);
    }
  }

  private async closeSessions(
    ids: string[],
    reason: CloseReasonName,
    message: string,
    agentId: string | undefined,
    actor: string,
    outcome: "ok" | "error",
    at = Date.now(),
  ): Promise<number> {
    this.forget(ids, `session closed: ${reason}`);
    // The database writes each closed session's audit entry (migration 0005).
    const closed = await this.deps.sessions.close(ids, { reason, message, at, actor, outcome });
    if (closed > 0) this.deps.log.info({ sessions: ids, reason, agentId }, "sessions closed");
    return closed;
  }

  /**
   * Cleanup that must not be lost when the database is briefly away: retried
   * with doubling delays until it lands (or the server restarts, whose start-up
   * reconciliation then closes the same sessions).
   */
  private async closeWithRetry(
    ids: string[],
    reason: CloseReasonName,
    message: string,
    agentId: string,
    delayMs = this.cleanupRetryMs,
  ): Promise<void> {
    // In memory the session ends now, whatever the database says.
    this.forget(ids, `session closed: ${reason}`);
    try {
      await this.closeSessions(
        ids,
        reason,
        message,
        agentId,
        actorOf.system,
        reason === "agent_error" ? "error" : "ok",
      );
    } catch (err) {
      this.deps.log.warn({ err, sessions: ids, retryInMs: delayMs }, "could not close sessions; will retry");
      const timer = setTimeout(() => {
        this.retryTimers.delete(timer);
        void this.closeWithRetry(ids, reason, message, agentId, Math.min(delayMs * 2, CLEANUP_RETRY_MAX_MS));
      }, delayMs);
      timer.unref();
      this.retryTimers.add(timer);
    }
  }
}
