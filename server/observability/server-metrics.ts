import { Code } from "@connectrpc/connect";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { ChannelType } from "../../gen/rmm/v1/frame_pb.js";
import type { AgentConnection } from "../services/agent-connection.js";
import type { ChannelObserver, RelayDirection } from "../services/channel-observer.js";
import type { PresenceObserver } from "../services/presence-observer.js";
import { STEP_STATES } from "../jobs/step-lifecycle.js";
import type { StepObserver } from "../jobs/step-observer.js";
import type { QueryObserver, StepStateName } from "../store/index.js";

/**
 * Latency buckets in seconds for technician and agent calls: unary calls take
 * about 1 ms here, transfers and exec seconds to minutes, and an agent's stream
 * lives for hours (its duration is its connection's lifetime).
 */
export const RPC_DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30, 300, 3600];
/** Database statements take 0.05-5 ms here; past a second something is wrong. */
export const QUERY_DURATION_BUCKETS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5];

/** What the metrics read at scrape time instead of counting as they change. */
export interface MetricSources {
  agents: () => Iterable<AgentConnection>;
  /** Cluster mode: the NATS link and the calls routed through this node; undefined outside it. */
  cluster?: () => ClusterStats | undefined;
}

/** What a cluster node reports at scrape time. */
export interface ClusterStats {
  linkUp: boolean;
  /** Calls landed here and carried to the agent's node. */
  forwarding: number;
  /** Calls other nodes carried here. */
  serving: number;
}

/**
 * Every metric this server exports, on a registry of its own (several servers
 * may share a process in tests). Names follow Prometheus conventions: an
 * `rmm_` prefix, `_total` counters, `_seconds` and `_bytes` units, and no
 * per-agent or per-session label (the series count stays bounded by the
 * fleet's OS and version mix, not its size).
 */
export class ServerMetrics implements ChannelObserver, PresenceObserver, QueryObserver, StepObserver {
  readonly registry = new Registry();
  private readonly rpcRequests: Counter<"service" | "method" | "code">;
  private readonly rpcDuration: Histogram<"service" | "method" | "code">;
  private readonly channelsOpen: Gauge<"type">;
  private readonly relayedBytes: Counter<"type" | "direction">;
  private readonly streamConnects: Counter;
  private readonly streamDisconnects: Counter<"reason">;
  private readonly queryDuration: Histogram<"operation">;
  private readonly queryErrors: Counter<"operation">;
  private readonly jobSteps: Counter<"state">;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: "rmm_agents_connected",
      help: "Agents holding a stream to this server, by the OS and agent version they reported",
      labelNames: ["os", "version"],
      registers,
      collect() {
        this.reset();
        for (const conn of sources.agents())
          this.inc({ os: conn.info.os || "unknown", version: conn.info.agentVersion || "unknown" });
      },
    });
    new Gauge({
      name: "rmm_sessions_live",
      help: "Tunnel sessions opening or active on this server's agent streams",
      registers,
      collect() {
        let live = 0;
        for (const conn of sources.agents()) live += conn.sessions.size;
        this.set(live);
      },
    });
    if (sources.cluster) {
      const stats = sources.cluster;
      new Gauge({
        name: "rmm_cluster_link_up",
        help: "1 while this cluster node's NATS link is up: calls needing another node fail Unavailable while it is 0",
        registers,
        collect() {
          this.set(stats()?.linkUp ? 1 : 0);
        },
      });
      new Gauge({
        name: "rmm_cluster_routed_calls",
        help: "Calls in flight between cluster nodes: forwarded from here to the agent's node, or served here for another node",
        labelNames: ["direction"],
        registers,
        collect() {
          const s = stats();
          this.set({ direction: "forwarded" }, s?.forwarding ?? 0);
          this.set({ direction: "served" }, s?.serving ?? 0);
        },
      });
    }
    this.channelsOpen = new Gauge({
      name: "rmm_channels_open",
      help: "Relayed channels open now, by channel type",
      labelNames: ["type"],
      registers,
    });
    this.relayedBytes = new Counter({
      name: "rmm_channel_relayed_bytes_total",
      help: "Channel data bytes relayed, by channel type and direction (to_agent, to_technician)",
      labelNames: ["type", "direction"],
      registers,
    });
    this.rpcRequests = new Counter({
      name: "rmm_rpc_requests_total",
      help: "Finished RPCs by service, method and gRPC status code",
      labelNames: ["service", "method", "code"],
      registers,
    });
    this.rpcDuration = new Histogram({
      name: "rmm_rpc_duration_seconds",
      help: "RPC duration from the call's start to its last message, by service, method and gRPC status code",
      labelNames: ["service", "method", "code"],
      buckets: RPC_DURATION_BUCKETS,
      registers,
    });
    this.streamConnects = new Counter({
      name: "rmm_agent_stream_connects_total",
      help: "Agent streams that completed their hello",
      registers,
    });
    this.streamDisconnects = new Counter({
      name: "rmm_agent_stream_disconnects_total",
      help: "Agent streams that ended, by reason",
      labelNames: ["reason"],
      registers,
    });
    this.queryDuration = new Histogram({
      name: "rmm_db_query_duration_seconds",
      help: "Database statement duration by operation (select, insert, update, delete, other)",
      labelNames: ["operation"],
      buckets: QUERY_DURATION_BUCKETS,
      registers,
    });
    this.queryErrors = new Counter({
      name: "rmm_db_query_errors_total",
      help: "Database statements that failed, by operation",
      labelNames: ["operation"],
      registers,
    });
    this.jobSteps = new Counter({
      name: "rmm_job_steps_total",
      help: `Fleet job steps that reached a state (${STEP_STATES.join(", ")})`,
      labelNames: ["state"],
      registers,
    });
  }

  /** One finished call; `code` is 0 for OK. */
  rpcFinished(service: string, method: string, code: number, seconds: number): void {
    const labels = { service, method, code: codeName(code) };
    this.rpcRequests.inc(labels);
    this.rpcDuration.observe(labels, seconds);
  }

  channelOpened(type: ChannelType): void {
    this.channelsOpen.inc({ type: channelTypeName(type) });
  }

  channelEnded(type: ChannelType): void {
    this.channelsOpen.dec({ type: channelTypeName(type) });
  }

  relayed(type: ChannelType, direction: RelayDirection, bytes: number): void {
    this.relayedBytes.inc({ type: channelTypeName(type), direction }, bytes);
  }

  streamConnected(): void {
    this.streamConnects.inc();
  }

  streamDisconnected(reason: string): void {
    this.streamDisconnects.inc({ reason: disconnectReasonLabel(reason) });
  }

  queryFinished(operation: string, seconds: number, failed: boolean): void {
    this.queryDuration.observe({ operation }, seconds);
    if (failed) this.queryErrors.inc({ operation });
  }

  stepsReached(state: StepStateName, count: number): void {
    this.jobSteps.inc({ state }, count);
  }

  /** The exposition text a scrape returns, and its content type. */
  async scrape(): Promise<{ body: string; contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}

/** gRPC's own names (OK, NOT_FOUND, ...), as grpc-prometheus and the gRPC docs spell them. */
function codeName(code: number): string {
  if (code === 0) return "OK";
  const name = Code[code as Code];
  return name === undefined ? "UNKNOWN" : name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

function channelTypeName(type: ChannelType): string {
  return (ChannelType[type] ?? "UNSPECIFIED").toLowerCase();
}

/**
 * The agent stream handler's free-text reasons, folded into a bounded label:
 * the known ones by name, a status ("InvalidArgument: ...") by its code.
 */
export function disconnectReasonLabel(reason: string): string {
  switch (reason) {
    case "missed heartbeats":
      return "missed_heartbeats";
    case "connection lost":
      return "connection_lost";
    case "agent closed its stream":
      return "agent_closed";
    case "stream closed":
      return "server_closed";
  }
  const code = /^([A-Za-z]+):/.exec(reason)?.[1];
  return code !== undefined && code in Code ? codeName(Code[code as keyof typeof Code]).toLowerCase() : "other";
}
