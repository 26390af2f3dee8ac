import { Code, ConnectError } from "@connectrpc/connect";
import { DEFAULT_WINDOW_BYTES, MAX_WINDOW_BYTES } from "../../common/credit-window.js";
import { RECENTLY_ENDED_KEPT, RecentIds } from "../../common/recent-ids.js";
import { ChannelType, type TunnelFrame } from "../../gen/rmm/v1/frame_pb.js";
import type { Technician } from "../auth/claims.js";
import type { AgentConnection } from "./agent-connection.js";
import { noChannelObserver, type ChannelObserver } from "./channel-observer.js";
import type { ProtocolFaults } from "./protocol-faults.js";
import { RelayedChannel, type ChannelRequest } from "./relayed-channel.js";
import type { SessionService } from "./session-service.js";

/** Channels one session may hold at once. Defaults to 256: plenty for a person, a cap for a runaway script. */
export const MAX_CHANNELS_PER_SESSION = 256;

/** How long the agent has to accept or refuse a channel. Defaults to 10 s, as for opening a tunnel. */
export const CHANNEL_OPEN_TIMEOUT_MS = 10_000;

export interface ChannelRelayOptions {
  /** Milliseconds the agent has to accept (credit) or refuse (close) a channel open. Defaults to CHANNEL_OPEN_TIMEOUT_MS. */
  openTimeoutMs?: number;
}

/** Every relayed channel of this server, by session and channel id. */
export class ChannelRelay {
  private readonly bySession = new Map<string, Map<number, RelayedChannel>>();
  private readonly nextChannelId = new Map<string, number>();
  /** Per session, channels that ended lately: the agent may still have frames of theirs in flight, which are dropped quietly. */
  private readonly recentlyEnded = new Map<string, RecentIds>();

  private readonly openTimeoutMs: number;

  constructor(
    private readonly sessions: SessionService,
    private readonly faults: ProtocolFaults,
    opts: ChannelRelayOptions = {},
    private readonly observer: ChannelObserver = noChannelObserver,
  ) {
    this.openTimeoutMs = opts.openTimeoutMs ?? CHANNEL_OPEN_TIMEOUT_MS;
    sessions.onSessionEnded((sessionId, message) => {
      for (const channel of this.bySession.get(sessionId)?.values() ?? [])
        channel.end(Code.Unavailable, message, false);
      this.recentlyEnded.delete(sessionId);
    });
  }

  /** Opens a channel for a technician on a session they own that is active now. */
  async open(tech: Technician, params: ChannelRequest): Promise<RelayedChannel> {
    if (params.type === ChannelType.UNSPECIFIED || ChannelType[params.type] === undefined) {
      throw new ConnectError(
        `channel type ${params.type} is not one of ${Object.keys(ChannelType)
          .filter((k) => Number.isNaN(Number(k)) && k !== "UNSPECIFIED")
          .join(", ")}`,
        Code.InvalidArgument,
      );
    }
    if (params.initialCredit > MAX_WINDOW_BYTES)
      throw new ConnectError(`initial_credit may be at most ${MAX_WINDOW_BYTES}`, Code.InvalidArgument);
    // Ownership and existence from the database (NotFound / PermissionDenied), liveness from memory.
    const row = await this.sessions.status(tech, params.sessionId);
    const session = this.sessions.activeSession(row.id);
    if (!session)
      throw new ConnectError(
        `session ${row.id} is ${row.state}, not active: open a tunnel first`,
        Code.FailedPrecondition,
      );
    const offered = session.conn.info.capabilities;
    if (!offered.includes(params.type))
      throw new ConnectError(
        `agent ${session.agentId} does not serve ${channelTypeName(params.type)} channels (it offers ${
          offered.map(channelTypeName).join(", ") || "none"
        }): it lacks them or runs with them disabled`,
        Code.Unimplemented,
      );
    session.lastActivityAt = Date.now();
    const channels = this.bySession.get(session.id) ?? new Map<number, RelayedChannel>();
    if (channels.size >= MAX_CHANNELS_PER_SESSION)
      throw new ConnectError(
        `session ${session.id} already has ${channels.size} channels open`,
        Code.ResourceExhausted,
      );
    const channelId = this.nextChannelId.get(session.id) ?? 1;
    this.nextChannelId.set(session.id, channelId + 1);
    const initialCredit = params.initialCredit || DEFAULT_WINDOW_BYTES;
    const channel = new RelayedChannel(session, channelId, initialCredit, (c) => this.remove(c), this.observer);
    channels.set(channelId, channel);
    this.bySession.set(session.id, channels);
    this.sessions.channelsChanged(session.id, channels.size);
    channel.open(params, initialCredit, this.openTimeoutMs);
    return channel;
  }

  /**
   * Technician frames are checked against the session on every frame: a
   * session closed or taken over meanwhile ends the channel.
   */
  checkSession(channel: RelayedChannel, tech: Technician): boolean {
    const session = this.sessions.activeSession(channel.session.id);
    if (session === channel.session && (session.technician === tech.subject || tech.role === "admin")) {
      session.lastActivityAt = Date.now();
      return true;
    }
    channel.end(Code.FailedPrecondition, `session ${channel.session.id} is no longer active`, true);
    return false;
  }

  /** A frame from an agent's stream. */
  fromAgent(conn: AgentConnection, frame: TunnelFrame): void {
    const channel = this.bySession.get(frame.sessionId)?.get(frame.channelId);
    if (channel && channel.session.conn === conn) {
      channel.session.lastActivityAt = Date.now();
      channel.fromAgent(frame);
      return;
    }
    if (this.recentlyEnded.get(frame.sessionId)?.has(frame.channelId)) return;
    const what = `${frame.payload.case ?? "empty"} frame for no open channel`;
    if (!this.faults.report(conn, { what, sessionId: frame.sessionId, channelId: frame.channelId })) return;
    // Answer with a close for that channel, unless it is itself a close (two sides must never ping-pong closes).
    if (frame.payload.case !== "close") {
      const why = conn.sessions.has(frame.sessionId)
        ? `no channel ${frame.channelId} in session ${frame.sessionId}`
        : `session ${frame.sessionId} is not open on this stream`;
      conn.send({
        case: "frame",
        value: {
          sessionId: frame.sessionId,
          channelId: frame.channelId,
          sequence: 1n,
          payload: { case: "close", value: { code: Code.NotFound, message: why } },
        },
      });
    }
  }

  private remove(channel: RelayedChannel): void {
    const channels = this.bySession.get(channel.session.id);
    if (channels?.delete(channel.channelId)) this.sessions.channelsChanged(channel.session.id, channels.size);
    const ended = this.recentlyEnded.get(channel.session.id) ?? new RecentIds(RECENTLY_ENDED_KEPT);
    ended.add(channel.channelId);
    this.recentlyEnded.set(channel.session.id, ended);
    if (channels?.size === 0) {
      this.bySession.delete(channel.session.id);
      if (!this.sessions.activeSession(channel.session.id)) {
        this.nextChannelId.delete(channel.session.id);
        this.recentlyEnded.delete(channel.session.id);
      }
    }
  }
}

function channelTypeName(type: number): string {
  return (ChannelType[type] ?? String(type)).toLowerCase();
}
