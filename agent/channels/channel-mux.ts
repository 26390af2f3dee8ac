import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { CreditOverrunError, DEFAULT_WINDOW_BYTES, ReceiveWindow, SendWindow } from "../../common/credit-window.js";
import type { Logger } from "../../common/logger.js";
import { RECENTLY_ENDED_KEPT, RecentIds } from "../../common/recent-ids.js";
import { ChannelType, type ChannelOpen, type TunnelFrame, type TunnelFrameSchema } from "../../gen/rmm/v1/frame_pb.js";
import type { ChannelFactory } from "./channel-factory.js";
import type { ChannelHandler, ChannelIo } from "../channel-io.js";

export type FrameInit = MessageInitShape<typeof TunnelFrameSchema>;
type Payload = NonNullable<FrameInit["payload"]>;

interface ChannelState {
  handler: ChannelHandler;
  io: ChannelIo;
  /** Next sequence expected from the server. */
  nextIn: bigint;
  /** Last sequence we sent. */
  lastOut: bigint;
}

/**
 * The channels of one tunnel session on the agent. Every protocol fault (an
 * unknown channel, a gap in sequence numbers, data past credit, an unsupported
 * type) ends that channel with a close frame saying why; the session, the
 * stream and the agent carry on.
 */
export class ChannelMux {
  private readonly channels = new Map<number, ChannelState>();
  /**
   * Channels that ended lately, whose peer may still have frames in flight
   * (data sent before it saw our close): those are dropped quietly instead of
   * answered with a NotFound close.
   */
  private readonly recentlyEnded = new RecentIds(RECENTLY_ENDED_KEPT);

  constructor(
    readonly sessionId: string,
    private readonly send: (frame: FrameInit) => void,
    private readonly factories: ReadonlyMap<ChannelType, ChannelFactory>,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.channels.size;
  }

  handle(frame: TunnelFrame): void {
    const { channelId, payload } = frame;
    if (payload.case === "open") return this.open(channelId, frame.sequence, payload.value);
    const state = this.channels.get(channelId);
    if (!state) {
      if (this.recentlyEnded.has(channelId)) return;
      if (payload.case !== "close")
        this.refuse(channelId, Code.NotFound, `no channel ${channelId} in session ${this.sessionId}`);
      return;
    }
    if (frame.sequence !== state.nextIn) {
      return this.fault(
        channelId,
        Code.InvalidArgument,
        `frame out of order on channel ${channelId}: expected sequence ${state.nextIn}, got ${frame.sequence}`,
      );
    }
    state.nextIn += 1n;
    switch (payload.case) {
      case "data":
        try {
          state.io.receiveWindow.received(payload.value.data.length);
        } catch (err) {
          if (err instanceof CreditOverrunError)
            return this.fault(
              channelId,
              Code.ResourceExhausted,
              `credit overrun on channel ${channelId}: ${err.message}`,
            );
          throw err;
        }
        state.handler.onData(payload.value.data);
        return;
      case "credit":
        try {
          state.io.sendWindow.grant(payload.value.bytes);
        } catch (err) {
          return this.fault(
            channelId,
            Code.InvalidArgument,
            `bad credit on channel ${channelId}: ${(err as Error).message}`,
          );
        }
        state.handler.onCredit();
        return;
      case "close":
        this.forget(channelId);
        state.handler.onClose(payload.value.code, payload.value.message);
        return;
      case "eof":
        if (!state.handler.onEof)
          return this.fault(channelId, Code.InvalidArgument, `channel ${channelId} does not take eof`);
        return state.handler.onEof();
      case "resize":
        if (!state.handler.onResize)
          return this.fault(
            channelId,
            Code.InvalidArgument,
            `channel ${channelId} is not a terminal: it cannot be resized`,
          );
        return state.handler.onResize(payload.value);
      case "info":
        if (!state.handler.onInfo)
          return this.fault(
            channelId,
            Code.InvalidArgument,
            `channel ${channelId} does not take ${payload.value.kind.case ?? "empty"} info`,
          );
        return state.handler.onInfo(payload.value);
      case undefined:
        return this.fault(channelId, Code.InvalidArgument, `empty frame on channel ${channelId}`);
    }
  }

  /** The tunnel is ending: every channel is told, so processes it started are ended. */
  closeAll(reason: string): void {
    for (const [channelId, state] of this.channels) {
      this.forget(channelId);
      state.handler.onClose(Code.Unavailable, reason);
    }
  }

  private open(channelId: number, sequence: bigint, open: ChannelOpen): void {
    const { type, initialCredit } = open;
    if (this.channels.has(channelId))
      return this.fault(channelId, Code.AlreadyExists, `channel ${channelId} is already open`);
    if (sequence !== 1n)
      return this.refuse(
        channelId,
        Code.InvalidArgument,
        `open of channel ${channelId} must have sequence 1, got ${sequence}`,
      );
    const factory = this.factories.get(type);
    if (!factory)
      return this.refuse(
        channelId,
        Code.Unimplemented,
        `channel type ${ChannelType[type] ?? type} is not served by this agent`,
      );
    const state: ChannelState = {
      handler: undefined as unknown as ChannelHandler,
      io: undefined as unknown as ChannelIo,
      nextIn: 2n,
      lastOut: 0n,
    };
    const receiveWindow = new ReceiveWindow(factory.windowBytes);
    const io: ChannelIo = {
      channelId,
      // The opener's initial credit is the window it advertises: it may never grant more outstanding than that.
      sendWindow: new SendWindow(initialCredit, initialCredit > 0 ? initialCredit : DEFAULT_WINDOW_BYTES),
      receiveWindow,
      sendData: (data, stream) =>
        this.emitIfOpen(state, channelId, { case: "data", value: { data, ...(stream !== undefined && { stream }) } }),
      sendInfo: (info) => this.emitIfOpen(state, channelId, { case: "info", value: info }),
      sendEof: () => this.emitIfOpen(state, channelId, { case: "eof", value: {} }),
      consumed: (bytes) => {
        const grant = receiveWindow.processed(bytes);
        if (grant > 0 && this.channels.get(channelId) === state)
          this.emit(state, channelId, { case: "credit", value: { bytes: grant } });
      },
      close: (code, message, exit) => {
        if (this.channels.get(channelId) !== state) return;
        this.forget(channelId);
        this.emit(state, channelId, { case: "close", value: { code, message, ...(exit && { exit }) } });
      },
    };
    state.io = io;
    this.channels.set(channelId, state);
    try {
      // Factories must not send before returning: the credit below is what tells the peer the channel exists.
      state.handler = factory(io, open);
    } catch (err) {
      this.channels.delete(channelId);
      if (!(err instanceof ConnectError)) throw err;
      return this.refuse(channelId, err.code, err.rawMessage);
    }
    // Accepting the channel is granting the opener its first window.
    this.emit(state, channelId, { case: "credit", value: { bytes: receiveWindow.windowBytes } });
  }

  /** A fault on a live channel: close it on both sides. */
  private fault(channelId: number, code: Code, message: string): void {
    const state = this.channels.get(channelId);
    this.log.warn({ sessionId: this.sessionId, channelId, code: Code[code] }, message);
    if (!state) return this.refuse(channelId, code, message);
    this.forget(channelId);
    state.handler.onClose(code, message);
    this.emit(state, channelId, { case: "close", value: { code, message } });
  }

  private forget(channelId: number): void {
    this.channels.delete(channelId);
    this.recentlyEnded.add(channelId);
  }

  /** An error for a channel we hold no state for. */
  private refuse(channelId: number, code: Code, message: string): void {
    this.log.warn({ sessionId: this.sessionId, channelId, code: Code[code] }, message);
    this.send({
      sessionId: this.sessionId,
      channelId,
      sequence: 1n,
      payload: { case: "close", value: { code, message } },
    });
  }

  /** Handlers may finish asynchronously (a process exiting): once the channel is gone, what they send is dropped. */
  private emitIfOpen(state: ChannelState, channelId: number, payload: Payload): void {
    if (this.channels.get(channelId) === state) this.emit(state, channelId, payload);
  }

  private emit(state: ChannelState, channelId: number, payload: Payload): void {
    state.lastOut += 1n;
    this.send({ sessionId: this.sessionId, channelId, sequence: state.lastOut, payload });
  }
}
