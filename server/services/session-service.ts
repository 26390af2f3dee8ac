import { randomUUID } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { isUuid } from "../../common/ids.js";
import type { Logger } from "../../common/logger.js";
import type { ExclusiveSessionGate } from "../jobs/exclusive-session-gate.js";
import type { Role, Technician } from "../auth/claims.js";
import { EPHEMERAL_GRACE_MS, OPEN_TIMEOUT_MS, SESSION_IDLE_TIMEOUT_MS } from "../server-config.js";
import {
  LiveSessionExistsError,
  isStoreUnavailable,
  type AgentStore,
  type CloseReasonName,
  type SessionRow,
  type SessionStore,
} from "../store/index.js";
import type { AgentConnection } from "./agent-connection.js";
import type { AgentRegistry } from "./agent-registry.js";
import { actorOf, type AuditLog } from "./audit-log.js";
import { closeReasonEnum } from "./close-reason.js";
import { SessionLifecycle, type ActiveSession, type CloseSpec, type TrackedSession } from "./session-lifecycle.js";

export type { ActiveSession } from "./session-lifecycle.js";

export interface SessionServiceOptions {
  /** How long OpenTunnel waits for the agent to answer before closing the session as `timeout`. Defaults to 10 s. */
  openTimeoutMs?: number;
  /** First delay before retrying a row write the database refused. Defaults to 1 s, doubling to `writeRetryMaxMs`. */
  cleanupRetryMs?: number;
  /** Longest wait between row write retries. Defaults to 30 s. */
  writeRetryMaxMs?: number;
  /** An active session with no channel traffic for this long is closed as `idle_timeout`. Defaults to 30 min. */
  idleTimeoutMs?: number;
  /** An ephemeral session with no channel this long is closed as `released`. Defaults to 10 s. */
  ephemeralGraceMs?: number;
  /** Roles whose sessions are always exclusive (from the policy file). Defaults to none. */
  exclusiveRoles?: ReadonlySet<Role>;
}

/** How an agent answered a tunnel open. */
type OpenOutcome =
  | { type: "ready" }
  | { type: "error"; code: number; message: string }
  | { type: "disconnected" }
  | { type: "closed"; reason: CloseReasonName }
  | { type: "timeout" }
  | { type: "cancelled" };

export interface OpenRequest {
  agentId: string;
  exclusive?: boolean;
  ephemeral?: boolean;
}

export interface SessionServiceDeps {
  agents: AgentStore;
  sessions: SessionStore;
  audit: AuditLog;
  registry: AgentRegistry;
  log: Logger;
}

/**
 * Tunnel sessions as technicians and agents see them: who may open, close
 * and read which session, and what the agent's messages mean for them. Every
 * state change goes through the SessionLifecycle, which owns the effects.
 * Each technician holds at most one live session per agent (the database
 * enforces it); several technicians may share an agent unless one of them is
 * exclusive.
 */
export class SessionService implements ExclusiveSessionGate {
  readonly lifecycle: SessionLifecycle;
  readonly idleTimeoutMs: number;
  private readonly openTimeoutMs: number;
  private readonly ephemeralGraceMs: number;
  private readonly exclusiveRoles: ReadonlySet<Role>;
  /** Opens waiting for their agent, by session. */
  private readonly pendingOpens = new Map<string, (outcome: OpenOutcome) => void>();
  /** Open channels per session, as the relay reports them; ephemeral sessions end when theirs reach zero. */
  private readonly channelCounts = new Map<string, number>();
  private readonly graceTimers = new Map<string, NodeJS.Timeout>();
  /** Calls of the same technician waiting for an opening session to become active or closing. */
  private readonly settleWaiters = new Map<string, Array<() => void>>();
  private readonly endedListeners: Array<(sessionId: string, message: string) => void> = [];
  private readonly releasedListeners: Array<(agentId: string) => void> = [];

  constructor(
    private readonly deps: SessionServiceDeps,
    opts: SessionServiceOptions = {},
  ) {
    this.openTimeoutMs = opts.openTimeoutMs ?? OPEN_TIMEOUT_MS;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? SESSION_IDLE_TIMEOUT_MS;
    this.ephemeralGraceMs = opts.ephemeralGraceMs ?? EPHEMERAL_GRACE_MS;
    this.exclusiveRoles = opts.exclusiveRoles ?? new Set();
    this.lifecycle = new SessionLifecycle(
      { sessions: deps.sessions, log: deps.log },
      { retryInitialMs: opts.cleanupRetryMs, retryMaxMs: opts.writeRetryMaxMs },
    );
    this.lifecycle.onEvent((event) => {
      for (const wake of this.settleWaiters.get(event.session.id) ?? []) wake();
      this.settleWaiters.delete(event.session.id);
      if (event.type !== "closing") return;
      const { session, spec } = event;
      this.pendingOpens.get(session.id)?.({ type: "closed", reason: spec.reason });
      this.disarmGrace(session.id);
      this.channelCounts.delete(session.id);
      for (const listener of this.endedListeners) listener(session.id, `session closed: ${spec.reason}`);
      if (session.exclusive) for (const listener of this.releasedListeners) listener(session.agentId);
    });
  }

  /** The exclusive session live on the agent, if any: job steps wait while one is open. */
  exclusiveSessionOn(agentId: string): string | undefined {
    return this.lifecycle.liveOnAgent(agentId).find((s) => s.exclusive)?.id;
  }

  /** Called with the agent's id as each exclusive session on it starts closing. */
  onReleased(listener: (agentId: string) => void): void {
    this.releasedListeners.push(listener);
  }

  async open(
    tech: Technician,
    req: OpenRequest,
    signal: AbortSignal,
    /** Set on the one retry after a close written late made room. */
    retried = false,
  ): Promise<{ session: SessionRow; reused: boolean }> {
    const { agentId } = req;
    if (agentId === "") throw new ConnectError("agent_id is required", Code.InvalidArgument);
    if (!isUuid(agentId)) throw new ConnectError(`agent_id "${agentId}" is not a UUID`, Code.InvalidArgument);
    const { agents, sessions, registry } = this.deps;
    const refuse = (code: Code, reason: string) => this.refuseOpen(tech, agentId, code, reason);

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

    const live = this.lifecycle.liveOnAgent(agentId);
    const own = live.find((s) => s.technician === tech.subject);
    if (own) return this.openOwn(tech, own, req, signal);
    const exclusive = req.exclusive === true || this.exclusiveRoles.has(tech.role);
    const conflict = exclusiveConflict(tech, live, exclusive);
    if (conflict) return refuse(Code.AlreadyExists, `agent ${agentId} ${conflict}`);

    const row = newRow(agentId, tech.subject, exclusive, req.ephemeral === true, sessions.nodeId);
    // One statement: inserted only for an enrolled, unrevoked agent, and
    // its audit entry written by the database in the same statement. The
    // agent is asked meanwhile, so an open costs the slower of the two.
    // Nothing can use the tunnel before the row exists: channels need the
    // session active, and it becomes active only below.
    const insert = sessions.createForActiveAgent({
      id: row.id,
      agentId,
      technician: tech.subject,
      at: row.opened_at,
      exclusive,
      ephemeral: req.ephemeral === true,
    });
    const { session, asked } = this.lifecycle.begin({ row, conn, recorded: insert });
    const answer = this.awaitAgent(session, asked, signal);
    const retract = (reason: CloseReasonName, message: string) =>
      this.closeQuietly(session, { reason, message, actor: actorOf.system, outcome: "error", tellAgent: true });
    try {
      if (!(await insert)) {
        retract("open_failed", "agent unknown or revoked");
        return await refuseUnavailable();
      }
    } catch (err) {
      if (err instanceof LiveSessionExistsError) {
        retract("open_failed", "the technician already holds a live session on this agent");
        // The row in the way may be one closed here whose close is not written yet: write it now, then try again once.
        const closing = this.lifecycle
          .all()
          .filter((s) => s.state === "closing" && s.agentId === agentId && s.technician === tech.subject);
        if (closing.length > 0 && !retried) {
          this.lifecycle.retryNow();
          await Promise.race([
            Promise.all(closing.map((s) => s.written)),
            new Promise((resolve) => setTimeout(resolve, this.openTimeoutMs).unref()),
          ]);
          return this.open(tech, req, signal, true);
        }
        return this.refuseExisting(tech, agentId);
      }
      // The insert may have committed with its reply lost: the close is written either way.
      retract("open_failed", "the database failed while recording the open");
      throw err;
    }

    const outcome = await answer;
    if (outcome.type === "ready" && session.state === "opening") {
      this.lifecycle.activate(session);
      if (session.ephemeral) this.armGrace(session);
      return { session: session.row, reused: false };
    }
    const failure = this.failureOf(outcome, agentId, session.id, signal);
    await this.lifecycle
      .close(session, {
        reason: failure.reason,
        message: failure.message,
        actor: actorOf.technician(tech.subject),
        outcome: "error",
        tellAgent: failure.reason === "timeout" || failure.reason === "closed_by_technician",
      })
      .catch((err: unknown) =>
        this.deps.log.warn({ err, sessionId: session.id }, "failed open: close not written yet"),
      );
    throw new ConnectError(failure.message, failure.code);
  }

  async close(tech: Technician, sessionId: string): Promise<SessionRow> {
    checkSessionId(sessionId);
    const tracked = this.lifecycle.get(sessionId);
    if (tracked) {
      await this.checkOwner(tech, tracked.row, "close");
      if (tracked.state === "closing") {
        // A retry of a close the database could not record yet: already closed here.
        this.lifecycle.retryNow();
        return tracked.row;
      }
      const message = `closed by ${tech.subject}`;
      try {
        await this.lifecycle.close(tracked, {
          reason: "closed_by_technician",
          message,
          actor: actorOf.technician(tech.subject),
          outcome: "ok",
          tellAgent: true,
        });
      } catch (err) {
        if (!isStoreUnavailable(err)) throw err;
        throw new ConnectError(
          `session ${sessionId} is closed, but the database could not record it yet (it will once it answers); retrying this call is harmless`,
          Code.Unavailable,
        );
      }
      return tracked.row;
    }
    const session = await this.owned(tech, sessionId, "close");
    if (session.state === "closed") return session;
    // Live in the database but unknown to this server: a leftover no stream holds.
    const at = Date.now();
    const fields = {
      reason: "closed_by_technician" as const,
      message: `closed by ${tech.subject}`,
      at,
      actor: actorOf.technician(tech.subject),
      outcome: "ok" as const,
    };
    const closed = await this.deps.sessions.close([sessionId], fields);
    if (closed === 0) return (await this.deps.sessions.get(sessionId)) ?? session;
    return {
      ...session,
      state: "closed",
      close_reason: fields.reason,
      close_message: fields.message,
      closed_at: at,
      closed_by: fields.actor,
      close_outcome: "ok",
    };
  }

  async status(tech: Technician, sessionId: string): Promise<SessionRow> {
    checkSessionId(sessionId);
    const tracked = this.lifecycle.get(sessionId);
    if (tracked) {
      await this.checkOwner(tech, tracked.row, "status");
      return tracked.row;
    }
    return this.owned(tech, sessionId, "status");
  }

  /** The session if it is active on a live stream right now. */
  activeSession(sessionId: string): ActiveSession | undefined {
    return this.lifecycle.active(sessionId);
  }

  /** Closes every active session silent for longer than the idle timeout, telling its agent. */
  async closeIdle(now: number): Promise<void> {
    for (const s of this.lifecycle.all()) {
      if (s.state !== "active" || now - s.lastActivityAt <= this.idleTimeoutMs) continue;
      this.closeQuietly(s, {
        reason: "idle_timeout",
        message: `no tunnel traffic for ${Math.round((now - s.lastActivityAt) / 1000)} s`,
        actor: actorOf.system,
        outcome: "ok",
        tellAgent: true,
      });
    }
  }

  /** Called as each session stops being active (in memory, before its row is written). */
  onSessionEnded(listener: (sessionId: string, message: string) => void): void {
    this.endedListeners.push(listener);
  }

  /** The relay's count of a session's open channels changed; an ephemeral session ends a grace after zero. */
  channelsChanged(sessionId: string, count: number): void {
    if (count > 0) {
      this.channelCounts.set(sessionId, count);
      this.disarmGrace(sessionId);
      return;
    }
    this.channelCounts.delete(sessionId);
    const s = this.lifecycle.active(sessionId);
    if (s?.ephemeral) this.armGrace(s);
  }

  /** The agent reports it serves a session. */
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
    const s = this.onStream(conn, sessionId);
    if (s) {
      this.closeQuietly(s, {
        reason: "agent_error",
        message: `agent error: ${message}`,
        actor: actorOf.system,
        outcome: "error",
        tellAgent: false,
      });
      return;
    }
    this.deps.log.warn(
      { agentId: conn.agentId, sessionId, code, message },
      "agent reported an error for a session it does not hold",
    );
  }

  /** The agent stopped serving a session by itself. */
  tunnelClosed(conn: AgentConnection, sessionId: string, message: string): void {
    const s = this.onStream(conn, sessionId);
    if (!s) return;
    this.pendingOpens.get(sessionId)?.({
      type: "error",
      code: Code.Aborted,
      message: message || "agent closed the tunnel",
    });
    this.closeQuietly(s, {
      reason: "agent_error",
      message: message || "agent closed the tunnel",
      actor: actorOf.system,
      outcome: "error",
      tellAgent: false,
    });
  }

  /**
   * The agent's list of the sessions it serves (in its heartbeat). Both sides
   * end what the other does not hold: a session the agent serves that is not
   * live here is closed on the agent; an active session here the agent does
   * not serve is closed here. Opening sessions are left alone: the agent
   * answers an open before it next heartbeats, on the same ordered stream.
   */
  agentReport(conn: AgentConnection, sessionIds: readonly string[]): void {
    const reported = new Set(sessionIds);
    for (const id of reported) {
      if (this.onStream(conn, id)) continue;
      const known = this.lifecycle.get(id);
      this.deps.log.warn({ agentId: conn.agentId, sessionId: id }, "agent serves a session not live here; closing it");
      conn.send({
        case: "closeTunnel",
        value: { sessionId: id, reason: closeReasonEnum(known?.row.close_reason ?? "agent_disconnected") },
      });
    }
    for (const s of this.lifecycle.liveOnAgent(conn.agentId)) {
      if (s.conn !== conn || s.state !== "active" || reported.has(s.id)) continue;
      this.closeQuietly(s, {
        reason: "agent_error",
        message: "the agent no longer serves this session",
        actor: actorOf.system,
        outcome: "error",
        tellAgent: true,
      });
    }
  }

  /**
   * A new stream for the agent: sessions still live in the database for it
   * that this server does not hold belong to a stream that is gone (the
   * tunnel lived on that stream), so they are closed.
   */
  async streamStarted(conn: AgentConnection): Promise<void> {
    const live = await this.deps.sessions.liveIdsOfAgent(conn.agentId);
    const stale = live.filter((id) => !this.lifecycle.get(id));
    if (stale.length === 0) return;
    await this.deps.sessions.close(stale, {
      reason: "agent_disconnected",
      message: "agent reconnected on a new stream",
      at: Date.now(),
      actor: actorOf.system,
      outcome: "ok",
    });
  }

  /** Every session opened on a stream ends with it. */
  async streamEnded(conn: AgentConnection, message = "agent stream ended"): Promise<void> {
    for (const s of this.lifecycle.liveOnAgent(conn.agentId)) {
      if (s.conn !== conn) continue;
      this.closeQuietly(s, {
        reason: "agent_disconnected",
        message,
        actor: actorOf.system,
        outcome: "ok",
        tellAgent: false,
      });
    }
  }

  /** At start: sessions a previous server left live cannot have a stream any more. */
  async closeLeftovers(): Promise<number> {
    const ids = await this.deps.sessions.ownLiveIds();
    if (ids.length > 0)
      await this.deps.sessions.close(ids, {
        reason: "server_restart",
        message: "left open by a server that stopped",
        at: Date.now(),
        actor: actorOf.system,
        outcome: "ok",
      });
    return ids.length;
  }

  /** At shutdown: close this server's live sessions now rather than at the next start. */
  async closeAllForShutdown(): Promise<void> {
    this.lifecycle.stop();
    for (const timer of this.graceTimers.values()) clearTimeout(timer);
    this.graceTimers.clear();
    for (const resolve of this.pendingOpens.values()) resolve({ type: "disconnected" });
    const ids = await this.deps.sessions.ownLiveIds();
    if (ids.length > 0)
      await this.deps.sessions.close(ids, {
        reason: "server_restart",
        message: "server shut down",
        at: Date.now(),
        actor: actorOf.system,
        outcome: "ok",
      });
  }

  /** An open by a technician who already holds a live session on the agent. */
  private async openOwn(
    tech: Technician,
    own: TrackedSession,
    req: OpenRequest,
    signal: AbortSignal,
  ): Promise<{ session: SessionRow; reused: boolean }> {
    if (own.state === "opening") {
      // Another call of the same technician is opening it right now: wait until it is active or closing.
      await new Promise<void>((resolve) => {
        const waiters = this.settleWaiters.get(own.id) ?? [];
        waiters.push(resolve);
        this.settleWaiters.set(own.id, waiters);
        signal.addEventListener("abort", () => resolve(), { once: true });
      });
      if (!this.lifecycle.active(own.id))
        throw new ConnectError(`session ${own.id} being opened by another of your calls did not open`, Code.Aborted);
    }
    if (req.ephemeral) {
      if (own.ephemeral && !this.channelCounts.has(own.id)) this.armGrace(own);
      return { session: own.row, reused: true };
    }
    if (own.ephemeral) {
      await this.deps.sessions.markExplicit(own.id);
      this.lifecycle.makeExplicit(own);
      this.disarmGrace(own.id);
      return { session: own.row, reused: true };
    }
    return this.refuseOpen(
      tech,
      own.agentId,
      Code.AlreadyExists,
      `you already hold session ${own.id} on agent ${own.agentId} (opened at ${new Date(own.row.opened_at).toISOString()})`,
    );
  }

  private async refuseExisting(tech: Technician, agentId: string): Promise<never> {
    const live = await this.deps.sessions.liveForAgent(agentId, tech.subject);
    return this.refuseOpen(
      tech,
      agentId,
      Code.AlreadyExists,
      live
        ? `you already hold session ${live.id} on agent ${agentId} (opened at ${new Date(live.opened_at).toISOString()})`
        : `you already hold a live session on agent ${agentId}`,
    );
  }

  private async refuseOpen(tech: Technician, agentId: string, code: Code, reason: string): Promise<never> {
    await this.deps.audit.recordBestEffort({
      actor: actorOf.technician(tech.subject),
      action: "tunnel.open",
      outcome: "refused",
      agentId,
      reason,
    });
    throw new ConnectError(reason, code);
  }

  private onStream(conn: AgentConnection, sessionId: string): TrackedSession | undefined {
    const s = this.lifecycle.get(sessionId);
    return s && s.conn === conn && s.state !== "closing" && s.state !== "closed" ? s : undefined;
  }

  /** A close whose row write is the lifecycle's to retry; nobody waits for it here. */
  private closeQuietly(s: TrackedSession, spec: CloseSpec): void {
    this.lifecycle
      .close(s, spec)
      .catch((err: unknown) =>
        this.deps.log.warn({ err, sessionId: s.id }, "session closed; its row write is retried"),
      );
  }

  private armGrace(s: TrackedSession): void {
    this.disarmGrace(s.id);
    const timer = setTimeout(() => {
      this.graceTimers.delete(s.id);
      if (s.state !== "active" || !s.ephemeral || this.channelCounts.has(s.id)) return;
      this.closeQuietly(s, {
        reason: "released",
        message: `no channel for ${this.ephemeralGraceMs} ms`,
        actor: actorOf.system,
        outcome: "ok",
        tellAgent: true,
      });
    }, this.ephemeralGraceMs);
    timer.unref();
    this.graceTimers.set(s.id, timer);
  }

  private disarmGrace(sessionId: string): void {
    clearTimeout(this.graceTimers.get(sessionId));
    this.graceTimers.delete(sessionId);
  }

  private async checkOwner(tech: Technician, session: SessionRow, what: "close" | "status"): Promise<void> {
    if (session.technician === tech.subject || tech.role === "admin") return;
    const reason = `session ${session.id} belongs to another technician`;
    await this.deps.audit.recordBestEffort({
      actor: actorOf.technician(tech.subject),
      action: what === "close" ? "tunnel.close" : "tunnel.status",
      outcome: "refused",
      agentId: session.agent_id,
      sessionId: session.id,
      reason,
    });
    throw new ConnectError(reason, Code.PermissionDenied);
  }

  private async owned(tech: Technician, sessionId: string, what: "close" | "status"): Promise<SessionRow> {
    const session = await this.deps.sessions.get(sessionId);
    if (!session) throw new ConnectError(`session ${sessionId} not found`, Code.NotFound);
    await this.checkOwner(tech, session, what);
    return session;
  }

  private awaitAgent(session: TrackedSession, asked: boolean, signal: AbortSignal): Promise<OpenOutcome> {
    return new Promise((resolve) => {
      const finish = (outcome: OpenOutcome) => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        this.pendingOpens.delete(session.id);
        resolve(outcome);
      };
      const timer = setTimeout(() => finish({ type: "timeout" }), this.openTimeoutMs);
      const onAbort = () => finish({ type: "cancelled" });
      signal.addEventListener("abort", onAbort);
      this.pendingOpens.set(session.id, finish);
      if (!asked) finish({ type: "disconnected" });
      if (signal.aborted) finish({ type: "cancelled" });
    });
  }

  private failureOf(
    outcome: OpenOutcome,
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
      case "closed":
      case "ready":
        return {
          reason: outcome.type === "closed" ? outcome.reason : "closed_by_technician",
          code: Code.Aborted,
          message: `session ${sessionId} closed before it became ready (${outcome.type === "closed" ? outcome.reason : "closed"})`,
        };
    }
  }
}

function checkSessionId(sessionId: string): void {
  if (sessionId === "") throw new ConnectError("session_id is required", Code.InvalidArgument);
  if (!isUuid(sessionId)) throw new ConnectError(`session_id "${sessionId}" is not a UUID`, Code.InvalidArgument);
}

function newRow(
  agentId: string,
  technician: string,
  exclusive: boolean,
  ephemeral: boolean,
  nodeId: string | undefined,
): SessionRow {
  return {
    id: randomUUID(),
    agent_id: agentId,
    technician,
    state: "opening",
    close_reason: null,
    close_message: null,
    opened_at: Date.now(),
    ready_at: null,
    closed_at: null,
    closed_by: null,
    close_outcome: null,
    exclusive: exclusive ? 1 : 0,
    ephemeral: ephemeral ? 1 : 0,
    node_id: nodeId ?? null,
  };
}

/**
 * Why an open cannot share the agent, or undefined when it can: an exclusive
 * open needs nobody else there, and nobody joins an exclusive holder. Names
 * who holds it; session ids only for admins.
 */
function exclusiveConflict(
  tech: Technician,
  others: readonly TrackedSession[],
  exclusive: boolean,
): string | undefined {
  const name = (s: TrackedSession) => (tech.role === "admin" ? `${s.technician} (session ${s.id})` : s.technician);
  const holder = others.find((s) => s.exclusive);
  if (holder) return `is held exclusively by ${name(holder)} since ${new Date(holder.row.opened_at).toISOString()}`;
  if (exclusive && others.length > 0)
    return `has sessions of ${others.map(name).join(", ")}: an exclusive open needs the agent free`;
  return undefined;
}
