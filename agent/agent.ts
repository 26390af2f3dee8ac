import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../common/logger.js";
import { ConnectRequestSchema, SessionReportSchema, type ConnectResponse } from "../gen/rmm/v1/agent_service_pb.js";
import { ChannelType, type TunnelFrame } from "../gen/rmm/v1/frame_pb.js";
import { ModeMachine } from "./agent-mode.js";
import { Backoff } from "./backoff.js";
import type { ChannelFactory } from "./channels/channel-factory.js";
import { ChannelMux, type FrameInit } from "./channels/channel-mux.js";
import { echoChannel } from "./channels/echo-channel.js";
import { execChannel } from "./channels/exec-channel.js";
import { terminalChannel } from "./channels/terminal-channel.js";
import { probeHealth } from "./health-probe.js";
import { Heartbeat } from "./heartbeat.js";
import { SilenceWatchdog } from "./silence-watchdog.js";
import { DEFAULT_HEARTBEAT_INTERVAL_MS } from "../common/heartbeat-interval.js";
import { JobStepRunner } from "./jobs/job-step-runner.js";
import type { AgentStream, AgentTransport } from "./transport.js";

type RequestKind = NonNullable<MessageInitShape<typeof ConnectRequestSchema>["kind"]>;

/** Channel types an agent serves unless configured otherwise. */
export const DEFAULT_CHANNELS: ReadonlyMap<ChannelType, ChannelFactory> = new Map([
  [ChannelType.TERMINAL, terminalChannel],
  [ChannelType.EXEC, execChannel],
  [ChannelType.ECHO, echoChannel],
]);

export interface AgentOptions {
  agentId: string;
  credential: string;
  info: { hostname: string; os: string; agentVersion: string; homeDirectory?: string };
  transport: AgentTransport;
  log: Logger;
  /** Reconnect delays; defaults to the named constants in backoff.ts. */
  backoff?: Backoff;
  /** Channel types served; defaults to DEFAULT_CHANNELS. */
  channels?: ReadonlyMap<ChannelType, ChannelFactory>;
  /** Advertised in hello; defaults to every type in `channels` (pass fewer when some are disabled). */
  capabilities?: ChannelType[];
  /** Whose disk heartbeats report. Defaults to the filesystem root. */
  diskPath?: string;
  /** Reported in hello (`rmm-agent run --label`, the state file's `labels`). Defaults to none. */
  labels?: Record<string, string>;
}

/** Ends of a stream that mean our credential is no good: retrying fast would only hammer the server. */
const REFUSED = new Set([Code.Unauthenticated, Code.PermissionDenied]);

/**
 * The endpoint agent: holds one stream to the server, heartbeats on it, serves
 * any number of tunnel sessions on it (one channel mux each), and reconnects with jittered backoff
 * whenever it drops.
 */
export class Agent {
  private readonly machine: ModeMachine;
  private readonly heartbeat: Heartbeat;
  private readonly backoff: Backoff;
  private readonly channels: ReadonlyMap<ChannelType, ChannelFactory>;
  private stream: AgentStream | undefined;
  /** Ends the stream when the server, having promised heartbeat acks, says nothing for offline_after_ms. */
  private readonly silence = new SilenceWatchdog((ms) => {
    this.silentFor = ms;
    this.stream?.close();
  });
  private silentFor: number | undefined;
  /** One channel mux per session served, kept by the mode machine's effects. */
  private readonly muxes = new Map<string, ChannelMux>();
  /** From the server's hello_ack; read when the machine enters a connected mode. */
  private heartbeatIntervalMs = DEFAULT_HEARTBEAT_INTERVAL_MS;
  private readonly jobSteps: JobStepRunner;

  constructor(private readonly opts: AgentOptions) {
    this.backoff = opts.backoff ?? new Backoff();
    this.channels = opts.channels ?? DEFAULT_CHANNELS;
    // Job steps run programs as exec channels do, so the same switch refuses both.
    this.jobSteps = new JobStepRunner({
      agentId: opts.agentId,
      enabled: this.channels.has(ChannelType.EXEC),
      log: opts.log,
      replies: {
        started: (stepId, pid) => this.send({ case: "jobStepStarted", value: { stepId, pid } }),
        ended: (value) => this.send({ case: "jobStepEnded", value }),
      },
    });
    this.heartbeat = new Heartbeat(
      {
        // The session list is read as the heartbeat leaves, so it is never older than the stream's last tunnel reply.
        sendHeartbeat: (value) =>
          this.send({
            case: "heartbeat",
            value: { ...value, sessions: create(SessionReportSchema, { sessionIds: [...this.machine.sessions] }) },
          }),
      },
      () => probeHealth(opts.diskPath ?? "/"),
    );
    this.machine = new ModeMachine(
      {
        connected: () => this.heartbeat.start(this.heartbeatIntervalMs),
        enterSession: (sessionId) =>
          this.muxes.set(
            sessionId,
            new ChannelMux(sessionId, (frame) => this.send({ case: "frame", value: frame }), this.channels, opts.log),
          ),
        leaveSession: (sessionId, reason) => {
          this.muxes.get(sessionId)?.closeAll(reason);
          this.muxes.delete(sessionId);
        },
        disconnected: () => this.heartbeat.stop(),
      },
      opts.log,
    );
  }

  get mode() {
    return this.machine.mode;
  }

  /** Runs until the signal aborts; never throws for network trouble. */
  async run(signal: AbortSignal): Promise<void> {
    const { log } = this.opts;
    for (let attempt = 1; !signal.aborted; attempt++) {
      this.machine.transition({ type: "connecting", attempt });
      const stream = this.opts.transport.connect(this.opts.credential);
      this.stream = stream;
      const onAbort = () => stream.close();
      signal.addEventListener("abort", onAbort);
      const started = Date.now();
      let reason = "server ended the stream";
      let refused = false;
      try {
        this.send({
          case: "hello",
          value: {
            agentId: this.opts.agentId,
            info: {
              ...this.opts.info,
              capabilities: this.opts.capabilities ?? [...this.channels.keys()],
              labels: this.opts.labels ?? {},
              jobSteps: true,
            },
            heartbeatAcks: true,
          },
        });
        for await (const msg of stream.messages) {
          this.silence.heard();
          this.handle(msg);
        }
      } catch (err) {
        const error = ConnectError.from(err);
        refused = REFUSED.has(error.code);
        reason = `${Code[error.code]}: ${error.rawMessage}`;
      } finally {
        this.silence.stop();
        if (this.silentFor !== undefined) reason = `the server was silent for ${this.silentFor} ms: the path is frozen`;
        this.silentFor = undefined;
        signal.removeEventListener("abort", onAbort);
        this.stream = undefined;
        this.jobSteps.stopAll();
      }
      if (signal.aborted) break;
      this.backoff.connectionEnded(Date.now() - started);
      let delayMs = this.backoff.next();
      if (refused) {
        // Keep trying (an admin may restore the agent) but at the slowest pace.
        delayMs = Math.max(delayMs, this.backoff.stableAfterMs);
        log.error({ reason }, "server refused this agent's credential; enroll again if it was revoked");
      }
      this.machine.transition({ type: "backoff", delayMs, reason }, reason);
      await sleep(delayMs, undefined, { signal }).catch(() => undefined);
    }
    this.machine.transition({ type: "stopped" }, "agent stopping");
  }

  private handle(msg: ConnectResponse): void {
    const mode = this.machine.mode;
    const { log } = this.opts;
    switch (msg.kind.case) {
      case "helloAck":
        if (mode.type !== "connecting") return;
        this.heartbeatIntervalMs = msg.kind.value.heartbeatIntervalMs || DEFAULT_HEARTBEAT_INTERVAL_MS;
        if (msg.kind.value.heartbeatAcks && msg.kind.value.offlineAfterMs > 0)
          this.silence.start(msg.kind.value.offlineAfterMs);
        this.machine.transition({ type: "heartbeat" }, "server acknowledged hello");
        return;
      case "openTunnel": {
        const { sessionId, technician } = msg.kind.value;
        if (mode.type !== "heartbeat" && mode.type !== "tunnel") return;
        // Already served (a repeated open) is ready too: the server decides which sessions exist.
        this.machine.addSession(sessionId, `opened by ${technician}`);
        this.send({ case: "tunnelReady", value: { sessionId } });
        return;
      }
      case "closeTunnel":
        if (!this.machine.removeSession(msg.kind.value.sessionId, "server closed the tunnel"))
          log.warn({ sessionId: msg.kind.value.sessionId }, "close for a tunnel this agent does not hold");
        return;
      case "heartbeatAck":
        return;
      case "jobStepStart":
        this.jobSteps.start(msg.kind.value);
        return;
      case "jobStepCancel":
        this.jobSteps.cancel(msg.kind.value);
        return;
      case "frame":
        this.routeFrame(msg.kind.value);
        return;
      case undefined:
        log.warn("empty message from the server");
        return;
    }
  }

  private routeFrame(frame: TunnelFrame): void {
    const mux = this.muxes.get(frame.sessionId);
    if (mux) {
      try {
        mux.handle(frame);
      } catch (err) {
        // A bug in one channel must not take the stream down: close that channel and carry on.
        this.opts.log.error({ err, channelId: frame.channelId }, "channel failed");
        this.send({
          case: "frame",
          value: closeFrame(frame, Code.Internal, `agent error on channel ${frame.channelId}`),
        });
      }
      return;
    }
    this.opts.log.warn(
      { sessionId: frame.sessionId, channelId: frame.channelId },
      "frame for a session this agent does not hold",
    );
    if (frame.payload.case !== "close") {
      this.send({
        case: "frame",
        value: closeFrame(frame, Code.NotFound, `agent holds no tunnel session ${frame.sessionId}`),
      });
    }
  }

  private send(kind: RequestKind): void {
    this.stream?.send(create(ConnectRequestSchema, { kind }));
  }
}

function closeFrame(frame: TunnelFrame, code: Code, message: string): FrameInit {
  return {
    sessionId: frame.sessionId,
    channelId: frame.channelId,
    sequence: 1n,
    payload: { case: "close", value: { code, message } },
  };
}
