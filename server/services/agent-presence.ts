import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "../../common/logger.js";
import type { AgentInfo, ConnectRequest } from "../../gen/rmm/v1/agent_service_pb.js";
import type { AuthenticatedAgent } from "../auth/claims.js";
import type { AgentInfoFields, AgentStore } from "../store/index.js";
import { AgentConnection } from "./agent-connection.js";
import type { AgentRegistry } from "./agent-registry.js";
import type { LastSeenBatcher } from "./last-seen-batcher.js";
import type { SessionService } from "./session-service.js";
import type { ChannelRelay } from "./channel-relay.js";

export interface StreamSettings {
  heartbeatIntervalMs: number;
  offlineAfterMs: number;
  maxMessageBytes: number;
}

export interface AgentPresenceDeps {
  agents: AgentStore;
  registry: AgentRegistry;
  lastSeen: LastSeenBatcher;
  sessions: SessionService;
  relay: ChannelRelay;
  settings: StreamSettings;
  log: Logger;
}

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
    const fields = infoFields(info);
    const conn = new AgentConnection(agentId, fields, Date.now());
    conn.heartbeatAcks = heartbeatAcks;
    // Persist what the agent says about itself before it can be seen online, but
    // only when it changed: a reconnect storm should not be a write storm.
    if (!sameInfo(agent, fields)) await this.deps.agents.updateInfo(agentId, fields);
    const replaced = this.deps.registry.register(conn);
    if (replaced) this.deps.log.info({ agentId }, "agent reconnected; older stream ended");
    this.deps.lastSeen.mark(agentId);
    const { heartbeatIntervalMs, offlineAfterMs, maxMessageBytes } = this.deps.settings;
    conn.send({ case: "helloAck", value: { heartbeatIntervalMs, offlineAfterMs, maxMessageBytes, heartbeatAcks } });
    await this.deps.sessions.streamStarted(conn);
    this.deps.log.info({ agentId, hostname: fields.hostname, online: this.deps.registry.size }, "agent online");
    return conn;
  }

  /** Every message counts as a sign of life; some also carry tunnel replies. */
  received(conn: AgentConnection, msg: ConnectRequest): void {
    conn.lastMessageAt = Date.now();
    this.deps.lastSeen.mark(conn.agentId);
    const { sessions } = this.deps;
    switch (msg.kind.case) {
      case "heartbeat":
        conn.health = msg.kind.value;
        conn.healthAt = conn.lastMessageAt;
        // The agent's only way to tell a frozen path from a quiet server (see AgentHello.heartbeat_acks).
        if (conn.heartbeatAcks) conn.send({ case: "heartbeatAck", value: {} });
        return;
      case "tunnelReady":
        sessions.tunnelReady(conn, msg.kind.value.sessionId);
        return;
      case "tunnelError":
        sessions.tunnelError(conn, msg.kind.value.sessionId, msg.kind.value.code, msg.kind.value.message);
        return;
      case "tunnelClosed":
        sessions.tunnelClosed(conn, msg.kind.value.sessionId, msg.kind.value.message);
        return;
      case "hello":
        throw new ConnectError("hello sent twice on one stream", Code.InvalidArgument);
      case "frame":
        this.deps.relay.fromAgent(conn, msg.kind.value);
        return;
      case undefined:
        throw new ConnectError("empty message: set one of the ConnectRequest fields", Code.InvalidArgument);
    }
  }

  /** Idempotent: the stream handler and the silence sweep may both report the same stream. */
  async disconnected(conn: AgentConnection, reason: string): Promise<void> {
    if (this.gone.has(conn)) return;
    this.gone.add(conn);
    conn.end();
    const wasCurrent = this.deps.registry.unregister(conn);
    this.deps.lastSeen.mark(conn.agentId);
    await this.deps.sessions.streamEnded(conn);
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
    a.capabilities.join() === b.capabilities.join()
  );
}

function infoFields(info: AgentInfo | undefined): AgentInfoFields {
  return {
    hostname: info?.hostname ?? "",
    os: info?.os ?? "",
    agentVersion: info?.agentVersion ?? "",
    capabilities: info?.capabilities ?? [],
  };
}
