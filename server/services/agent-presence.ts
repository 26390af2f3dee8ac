import { Code, ConnectError } from "@connectrpc/connect";
import { labelsJson } from "../../common/labels.js";
import type { Logger } from "../../common/logger.js";
import { cutText } from "../../common/cut-text.js";
import type { AgentInfo, ConnectRequest } from "../../gen/rmm/v1/agent_service_pb.js";
import type { JobStepEnded } from "../../gen/rmm/v1/job_step_pb.js";
import type { AuthenticatedAgent } from "../auth/claims.js";
import type { AgentInfoFields, AgentStore } from "../store/index.js";
import { AgentConnection } from "./agent-connection.js";
import { checkAgentInfo, checkHomeDirectory } from "./agent-info-check.js";
import type { ProtocolFaults } from "./protocol-faults.js";
import type { AgentRegistry } from "./agent-registry.js";
import type { LastSeenBatcher } from "./last-seen-batcher.js";
import type { SessionService } from "./session-service.js";
import type { ChannelRelay } from "./channel-relay.js";
import { noPresenceObserver, type PresenceObserver } from "./presence-observer.js";

export interface StreamSettings {
  heartbeatIntervalMs: number;
  offlineAfterMs: number;
  maxMessageBytes: number;
}

/** Where job-step traffic goes (the job runner); steps need no tunnel session. */
export interface JobStepListener {
  agentOnline(conn: AgentConnection): void;
  agentOffline(conn: AgentConnection): void;
  started(conn: AgentConnection, stepId: string): void;
  /** Throws ConnectError for a report that breaks the contract; the stream ends with it. */
  ended(conn: AgentConnection, msg: JobStepEnded): void;
}

export interface AgentPresenceDeps {
  agents: AgentStore;
  registry: AgentRegistry;
  lastSeen: LastSeenBatcher;
  sessions: SessionService;
  relay: ChannelRelay;
  faults: ProtocolFaults;
  settings: StreamSettings;
  log: Logger;
  /** Told of each stream that starts and ends (the server's metrics). Defaults to nobody. */
  observer?: PresenceObserver;
  jobs: JobStepListener;
  /** Cluster mode: records which node holds each agent's stream. Defaults to nobody (one server). */
  placement?: AgentPlacementListener;
}

/** Told as this server takes and loses agents' streams (cluster mode writes agent_presence). */
export interface AgentPlacementListener {
  placed(agentId: string, connectedAt: number): void;
  left(agentId: string, connectedAt: number): void;
}

/** Session ids are UUIDs (36 characters); anything much longer is not one this server issued. */
const MAX_SESSION_ID = 64;
/** Silent this many heartbeat intervals when its stream ended: the agent missed a heartbeat, it did not just hang up. */
const MISSED_HEARTBEAT_FACTOR = 1.5;
/** The one-, five- and fifteen-minute load averages. */
const MAX_LOAD_AVERAGES = 3;

/** What happens as agent streams come, speak and go. */
export class AgentPresence {
  private readonly gone = new WeakSet<AgentConnection>();

  constructor(private readonly deps: AgentPresenceDeps) {}

  /** Registers a stream after a valid hello; the ack is the first message queued on it. */
  async connected(
    agent: AuthenticatedAgent,
    info: AgentInfo | undefined,
    heartbeatAcks = false,
  ): Promise<AgentConnection> {
    const agentId = agent.id;
    const reported = checkAgentInfo(info, "hello.info");
    const same = sameInfo(agent, reported);
    // Unchanged (the common reconnect): the stream keeps the record's own values, already held for the call, not a second copy.
    const fields: AgentInfoFields = same
      ? {
          hostname: agent.hostname,
          os: agent.os,
          agentVersion: agent.agentVersion,
          capabilities: agent.capabilities,
          labels: agent.reportedLabels,
        }
      : reported;
    const conn = new AgentConnection(agentId, fields, Date.now(), info?.jobSteps ?? false);
    conn.heartbeatAcks = heartbeatAcks;
    conn.homeDirectory = checkHomeDirectory(info, "hello.info");
    // Persist what the agent says about itself before it can be seen online, but
    // only when it changed: a reconnect storm should not be a write storm.
    if (!same) await this.deps.agents.updateInfo(agentId, fields);
    const replaced = this.deps.registry.register(conn);
    if (replaced) this.deps.log.info({ agentId }, "agent reconnected; older stream ended");
    this.deps.lastSeen.mark(agentId);
    const { heartbeatIntervalMs, offlineAfterMs, maxMessageBytes } = this.deps.settings;
    conn.send({ case: "helloAck", value: { heartbeatIntervalMs, offlineAfterMs, maxMessageBytes, heartbeatAcks } });
    this.deps.placement?.placed(agentId, conn.connectedAt);
    await this.deps.sessions.streamStarted(conn);
    (this.deps.observer ?? noPresenceObserver).streamConnected();
    this.deps.jobs.agentOnline(conn);
    this.deps.log.info({ agentId, hostname: fields.hostname, online: this.deps.registry.size }, "agent online");
    return conn;
  }

  /** Every message counts as a sign of life; some also carry tunnel replies. */
  received(conn: AgentConnection, msg: ConnectRequest): void {
    conn.lastMessageAt = Date.now();
    this.deps.lastSeen.mark(conn.agentId);
    const { sessions, faults } = this.deps;
    const fault = (what: string, sessionId?: string) => void faults.report(conn, { what, sessionId });
    const kind = msg.kind;
    if (
      kind.case === "tunnelReady" ||
      kind.case === "tunnelError" ||
      kind.case === "tunnelClosed" ||
      kind.case === "frame"
    ) {
      if (kind.value.sessionId.length > MAX_SESSION_ID)
        return fault(`${kind.case} with a session_id of ${kind.value.sessionId.length} characters`);
      if (kind.case !== "frame" && kind.case !== "tunnelClosed" && !conn.sessions.has(kind.value.sessionId))
        return fault(`${kind.case} for a session not opened on this stream`, kind.value.sessionId);
    }
    switch (kind.case) {
      case "heartbeat":
        if (kind.value.loadAverage.length > MAX_LOAD_AVERAGES)
          return fault(`heartbeat with ${kind.value.loadAverage.length} load averages (at most ${MAX_LOAD_AVERAGES})`);
        conn.health = kind.value;
        conn.healthAt = conn.lastMessageAt;
        // The agent's only way to tell a frozen path from a quiet server (see AgentHello.heartbeat_acks).
        if (conn.heartbeatAcks) conn.send({ case: "heartbeatAck", value: {} });
        if (kind.value.sessions) sessions.agentReport(conn, kind.value.sessions.sessionIds);
        return;
      case "tunnelReady":
        sessions.tunnelReady(conn, kind.value.sessionId);
        return;
      case "tunnelError":
        sessions.tunnelError(conn, kind.value.sessionId, kind.value.code, cutText(kind.value.message));
        return;
      case "tunnelClosed":
        sessions.tunnelClosed(conn, kind.value.sessionId, cutText(kind.value.message));
        return;
      case "hello":
        throw new ConnectError("hello sent twice on one stream", Code.InvalidArgument);
      case "frame":
        this.deps.relay.fromAgent(conn, kind.value);
        return;
      case "jobStepStarted":
        this.deps.jobs.started(conn, kind.value.stepId);
        return;
      case "jobStepEnded":
        this.deps.jobs.ended(conn, kind.value);
        return;
      case undefined:
        throw new ConnectError("empty message: set one of the ConnectRequest fields", Code.InvalidArgument);
    }
  }

  /**
   * Idempotent: the stream handler and the silence sweep may both report the same stream.
   * Its sessions' technicians are told whether the agent went silent first (frozen or cut off:
   * the sweep or the server's PINGs ended it) or its stream simply ended.
   */
  async disconnected(conn: AgentConnection, reason: string): Promise<void> {
    if (this.gone.has(conn)) return;
    this.gone.add(conn);
    conn.end();
    const wasCurrent = this.deps.registry.unregister(conn);
    if (wasCurrent) this.deps.placement?.left(conn.agentId, conn.connectedAt);
    (this.deps.observer ?? noPresenceObserver).streamDisconnected(reason);
    this.deps.lastSeen.mark(conn.agentId);
    this.deps.jobs.agentOffline(conn);
    const silentMs = Date.now() - conn.lastMessageAt;
    const missed = silentMs > this.deps.settings.heartbeatIntervalMs * MISSED_HEARTBEAT_FACTOR;
    await this.deps.sessions.streamEnded(
      conn,
      missed
        ? `agent missed its heartbeats (silent for ${Math.round(silentMs / 1000)} s): frozen or cut off`
        : undefined,
    );
    this.deps.log.info(
      { agentId: conn.agentId, reason, wasCurrent, online: this.deps.registry.size },
      "agent stream ended",
    );
  }
}

function sameInfo(a: AuthenticatedAgent, b: AgentInfoFields): boolean {
  return (
    a.hostname === b.hostname &&
    a.os === b.os &&
    a.agentVersion === b.agentVersion &&
    a.capabilities.join() === b.capabilities.join() &&
    labelsJson(a.reportedLabels) === labelsJson(b.labels)
  );
}
