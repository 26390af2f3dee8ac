import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { AsyncQueue } from "../../common/async-queue.js";
import { MAX_WINDOW_BYTES, SendWindow } from "../../common/credit-window.js";
import type {
  ChannelData,
  ChannelInfo,
  ChannelOpen,
  ChannelType,
  TunnelFrame,
  TunnelFrameSchema,
} from "../../gen/rmm/v1/frame_pb.js";
import {
  OpenChannelResponseSchema,
  type OpenChannelRequest,
  type OpenChannelResponse,
} from "../../gen/rmm/v1/tunnel_service_pb.js";
import { noChannelObserver, type ChannelObserver } from "./channel-observer.js";
import type { ActiveSession } from "./session-service.js";

type FramePayload = NonNullable<MessageInitShape<typeof TunnelFrameSchema>["payload"]>;

/**
 * Largest data message the relay builds by merging data still queued for the
 * same side. Per-message costs (protobuf and gRPC framing, HTTP/2 frames,
 * promise hops at every process) dominate tunnel throughput, and a queue only
 * backs up when its reader is the bottleneck: merging then sends fewer,
 * larger messages exactly when that helps. Defaults to 256 KiB, far under
 * the 4 MiB message limit.
 */
export const MAX_COALESCED_DATA_BYTES = 256 * 1024;

/** A channel close with this code is a clean end (gRPC's OK, which connect's Code enum leaves out). */
export const CHANNEL_OK = 0;

/** What a channel is opened for: the technician's OpenChannel, or a server-side RPC (Exec, the file RPCs). */
export interface ChannelRequest {
  sessionId: string;
  type: ChannelType;
  parameters?: Record<string, string>;
  /** Bytes the agent may send before more credit; 0: the default window. */
  initialCredit: number;
  params: ChannelOpen["params"];
}

/** Why and how a relayed channel ended. */
export interface ChannelEnd {
  /** A gRPC status code; CHANNEL_OK for a clean end. */
  code: number;
  message: string;
  /** The agent's stream was gone when the channel ended: the agent vanished (killed, crashed, cut off) under it. */
  agentGone: boolean;
}

/**
 * One technician channel relayed to the agent's stream. The server holds no
 * data of its own: every byte it queues either way was granted by the
 * receiving side, so a channel's buffers here never exceed its credit. A
 * frame that breaks the protocol ends this channel only, on both sides.
 */
export class RelayedChannel {
  /** What the technician's call yields. Bounded by the credit the technician granted. */
  readonly toTechnician = new AsyncQueue<OpenChannelResponse>();
  private sentToAgent = 0n;
  private receivedFromAgent = 0n;
  /**
   * Bytes the technician may send: granted by the agent's credit frames. The agent's first grant (its
   * accept) is the window it advertises; it may never have more than that outstanding.
   */
  private technicianMay = new SendWindow(0, 0);
  /** Bytes the agent may send: granted by the technician, never more outstanding than its initial credit. */
  private readonly agentMay: SendWindow;
  private accepted = false;
  private ended: ChannelEnd | undefined;
  private openTimer: NodeJS.Timeout | undefined;
  /** Set by open(); undefined for a channel never opened (the observer hears only of opened ones). */
  private type: ChannelType | undefined;

  constructor(
    readonly session: ActiveSession,
    readonly channelId: number,
    initialCredit: number,
    private readonly onEnd: (channel: RelayedChannel, end: ChannelEnd) => void,
    private readonly observer: ChannelObserver = noChannelObserver,
  ) {
    this.agentMay = new SendWindow(initialCredit, initialCredit);
  }

  get isEnded(): boolean {
    return this.ended !== undefined;
  }

  /** How the channel ended; undefined while it is open. */
  get endedWith(): ChannelEnd | undefined {
    return this.ended;
  }

  /**
   * Sends the open frame; the agent accepts with credit or refuses with close. An agent that does
   * neither within `timeoutMs` has the channel closed on both sides with DeadlineExceeded.
   */
  open(request: ChannelRequest, initialCredit: number, timeoutMs: number): void {
    this.type = request.type;
    this.observer.channelOpened(request.type);
    this.toAgent({
      case: "open",
      value: { type: request.type, parameters: request.parameters ?? {}, initialCredit, params: request.params },
    });
    this.openTimer = setTimeout(
      () =>
        this.fail(
          Code.DeadlineExceeded,
          `the agent neither accepted nor refused channel ${this.channelId} within ${timeoutMs} ms`,
        ),
      timeoutMs,
    );
    this.openTimer.unref();
  }

  /**
   * A structured message to the agent from a server-side caller (the file RPCs send the upload digest this way).
   * Technicians' OpenChannel calls cannot send info: what they may send is data, under credit.
   */
  sendInfo(info: ChannelInfo): void {
    if (!this.ended) this.toAgent({ case: "info", value: info });
  }

  fromTechnician(req: OpenChannelRequest): void {
    if (this.ended) return;
    switch (req.kind.case) {
      case "data": {
        const bytes = req.kind.value.data.length;
        const credit = this.accepted ? this.technicianMay.credit : 0;
        if (bytes > credit)
          return this.fail(
            Code.ResourceExhausted,
            `sent ${bytes} bytes with only ${credit} bytes of credit: wait for credit from the agent`,
          );
        this.technicianMay.take(bytes);
        if (this.type !== undefined) this.observer.relayed(this.type, "to_agent", bytes);
        if (this.mergeIntoQueuedAgentData(req.kind.value)) return;
        return this.toAgent({ case: "data", value: req.kind.value });
      }
      case "credit":
        if (!this.grant(this.agentMay, req.kind.value.bytes, "credit")) return;
        return this.toAgent({ case: "credit", value: req.kind.value });
      case "close":
        this.toAgent({ case: "close", value: req.kind.value });
        return this.finish({ code: req.kind.value.code, message: req.kind.value.message || "closed by technician" });
      case "eof":
        return this.toAgent({ case: "eof", value: req.kind.value });
      case "resize":
        return this.toAgent({ case: "resize", value: req.kind.value });
      case "open":
        return this.fail(Code.InvalidArgument, "open sent twice on one channel call");
      case undefined:
        return this.fail(Code.InvalidArgument, "empty message: set one of open, data, credit, close");
    }
  }

  fromAgent(frame: TunnelFrame): void {
    if (this.ended) return;
    if (frame.sequence !== this.receivedFromAgent + 1n) {
      return this.fail(
        Code.InvalidArgument,
        `agent frame out of order: expected sequence ${this.receivedFromAgent + 1n}, got ${frame.sequence}`,
      );
    }
    this.receivedFromAgent = frame.sequence;
    const p = frame.payload;
    if (!this.accepted && p.case !== "credit" && p.case !== "close")
      return this.fail(
        Code.InvalidArgument,
        `agent sent ${p.case ?? "an empty frame"} before accepting channel ${this.channelId}: its first frame must be credit (accept) or close (refuse)`,
      );
    switch (p.case) {
      case "credit":
        if (!this.accepted) {
          if (!Number.isInteger(p.value.bytes) || p.value.bytes <= 0 || p.value.bytes > MAX_WINDOW_BYTES)
            return this.fail(
              Code.InvalidArgument,
              `bad agent credit: the accepting grant must be 1..${MAX_WINDOW_BYTES} bytes, got ${p.value.bytes}`,
            );
          this.accepted = true;
          clearTimeout(this.openTimer);
          this.technicianMay = new SendWindow(p.value.bytes, p.value.bytes);
          this.toTechnician.push(response({ case: "opened", value: { channelId: this.channelId } }));
        } else if (!this.grant(this.technicianMay, p.value.bytes, "agent credit")) return;
        this.toTechnician.push(response({ case: "credit", value: p.value }));
        return;
      case "data": {
        const bytes = p.value.data.length;
        if (bytes > this.agentMay.credit)
          return this.fail(
            Code.ResourceExhausted,
            `agent sent ${bytes} bytes past its credit of ${this.agentMay.credit}`,
          );
        this.agentMay.take(bytes);
        if (this.type !== undefined) this.observer.relayed(this.type, "to_technician", bytes);
        const queued = this.toTechnician.last();
        if (queued?.kind.case === "data" && mergeData(queued.kind.value, p.value)) return;
        this.toTechnician.push(response({ case: "data", value: p.value }));
        return;
      }
      case "close":
        this.toTechnician.push(response({ case: "close", value: p.value }));
        return this.finish({ code: p.value.code, message: p.value.message });
      case "eof":
      case "info":
        this.toTechnician.push(response(p));
        return;
      case "resize":
        return this.fail(Code.InvalidArgument, "agent sent resize: only technicians resize terminals");
      case "open":
      case undefined:
        return this.fail(Code.InvalidArgument, `agent sent ${p.case ?? "an empty frame"} on an open channel`);
    }
  }

  /** Ends the channel from outside (session closed, stream gone, technician gone), telling whichever sides are still there. */
  end(code: Code | typeof CHANNEL_OK, message: string, tellAgent: boolean): void {
    if (this.ended) return;
    if (tellAgent) this.toAgent({ case: "close", value: { code, message } });
    this.toTechnician.push(response({ case: "close", value: { code, message } }));
    this.finish({ code, message });
  }

  private grant(window: SendWindow, bytes: number, what: string): boolean {
    try {
      window.grant(bytes);
      return true;
    } catch (err) {
      this.fail(Code.InvalidArgument, `bad ${what}: ${(err as Error).message}`);
      return false;
    }
  }

  private fail(code: Code, message: string): void {
    this.end(code, message, true);
  }

  private finish(end: Omit<ChannelEnd, "agentGone">): void {
    this.ended = { ...end, agentGone: this.session.conn.ended };
    clearTimeout(this.openTimer);
    if (this.type !== undefined) this.observer.channelEnded(this.type);
    this.toTechnician.end();
    this.onEnd(this, this.ended);
  }

  /**
   * Appends `data` to this channel's last frame if it is data still waiting in
   * the agent stream's queue; the frame keeps its sequence number, so the
   * agent sees one frame where two were sent to it.
   */
  private mergeIntoQueuedAgentData(data: ChannelData): boolean {
    const queued = this.session.conn.outbound.last();
    if (queued?.kind.case !== "frame") return false;
    const frame = queued.kind.value;
    return (
      frame.sessionId === this.session.id &&
      frame.channelId === this.channelId &&
      frame.sequence === this.sentToAgent &&
      frame.payload.case === "data" &&
      mergeData(frame.payload.value, data)
    );
  }

  private toAgent(payload: FramePayload): void {
    this.sentToAgent += 1n;
    this.session.conn.send({
      case: "frame",
      value: { sessionId: this.session.id, channelId: this.channelId, sequence: this.sentToAgent, payload },
    });
  }
}

/**
 * Spare room behind a merged message's data: a backlog of many small writes
 * (a chatty terminal behind a slow technician) then costs one copy per byte,
 * not a fresh copy of everything merged so far on every write.
 */
const mergeRoom = new WeakMap<ChannelData, Uint8Array>();

/** Appends `next` to `into` (same output stream, within the size cap); false when it may not. */
function mergeData(into: ChannelData, next: ChannelData): boolean {
  const total = into.data.length + next.data.length;
  if (into.stream !== next.stream || total > MAX_COALESCED_DATA_BYTES) return false;
  let room = mergeRoom.get(into);
  if (!room || room.length < total) {
    room = new Uint8Array(Math.min(MAX_COALESCED_DATA_BYTES, Math.max(2 * total, 16 * 1024)));
    room.set(into.data);
    mergeRoom.set(into, room);
  }
  room.set(next.data, into.data.length);
  into.data = room.subarray(0, total);
  return true;
}

function response(kind: NonNullable<MessageInitShape<typeof OpenChannelResponseSchema>["kind"]>): OpenChannelResponse {
  return create(OpenChannelResponseSchema, { kind });
}
