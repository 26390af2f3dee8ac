import { Code, ConnectError } from "@connectrpc/connect";
import { createInbox, ErrorCode, NatsError, type Msg, type NatsConnection, type Subscription } from "nats";
import { AsyncQueue } from "../../common/async-queue.js";
import { KIND, MAX_FRAGMENT_BYTES, headerOf, numberHeader, wireHeaders } from "./stream-wire.js";

/**
 * How often each side asks the other whether it is still there, and how long
 * it waits for the answer. A node killed mid-stream leaves its peer's stream
 * ended within about PEER_PING_MS + PEER_PING_TIMEOUT_MS (NATS answers "no
 * responders" at once for a subscription that is gone).
 */
export const PEER_PING_MS = 2_000;
export const PEER_PING_TIMEOUT_MS = 3_000;

/** How a stream ended: a gRPC code (0: ok) and message. */
export interface StreamEnd {
  code: number;
  message: string;
}

export interface RemoteStreamOptions {
  /** Bytes of messages this side lets the peer have in flight (its receive window). */
  windowBytes: number;
  /** Largest message either side sends; the receive bound is windowBytes plus this. */
  maxMessageBytes: number;
  /** What the peer is, for messages ("node n2"). */
  peerName: string;
}

/**
 * A flow-controlled, ordered stream of whole messages between two nodes over
 * NATS core. NATS drops messages for slow consumers and buffers only so much,
 * so nothing here relies on it: a side sends a message only while it holds
 * credit (it may overdraw by the one message it starts), the receiver grants
 * credit as its consumer takes messages, so each side buffers at most its
 * window plus one message. Messages travel as fragments of at most
 * MAX_FRAGMENT_BYTES, sequence-numbered: a lost one ends the stream with
 * Unavailable rather than corrupt it.
 */
export class RemoteStream {
  private sendSeq = 0;
  private receivedSeq = 0;
  private credit: number;
  private creditWaiters: Array<() => void> = [];
  private readonly inbound = new AsyncQueue<Uint8Array>();
  private queuedBytes = 0;
  private fragments: Uint8Array[] = [];
  private fragmentBytes = 0;
  private ungranted = 0;
  private ended_: StreamEnd | undefined;
  private readonly endListeners: Array<(end: StreamEnd, byPeer: boolean) => void> = [];
  private pinger: NodeJS.Timeout | undefined;
  private peerInbox = "";
  /** This side's inbox: the peer sends here. */
  readonly inbox = createInbox();
  private readonly subscription: Subscription;

  /**
   * Subscribes to this side's inbox at once: the peer may send as soon as it
   * learns the inbox, before attach(). Messages are handled in the callback,
   * synchronously in arrival order, so an end is always seen before a later
   * "no responders" for the same peer.
   */
  constructor(
    private readonly nc: NatsConnection,
    private readonly opts: RemoteStreamOptions,
  ) {
    this.credit = 0;
    this.subscription = nc.subscribe(this.inbox, {
      callback: (err, msg) => {
        if (err) this.abandon({ code: Code.Unavailable, message: `cluster link: ${err.message}` });
        else if (!this.ended_) this.receive(msg);
      },
    });
  }

  /** Starts sending: the peer's inbox and the credit it granted. */
  attach(peerInbox: string, peerWindowBytes: number): void {
    this.peerInbox = peerInbox;
    this.credit += peerWindowBytes;
    this.wakeWriters();
    this.pinger = setInterval(() => this.ping(), PEER_PING_MS);
    this.pinger.unref();
  }

  get ended(): StreamEnd | undefined {
    return this.ended_;
  }

  /** Bytes of the peer's messages held here, received and not yet taken by the consumer (whole or in fragments). */
  get bufferedBytes(): number {
    return this.queuedBytes + this.fragmentBytes;
  }

  /** Bytes this side may still send before it must wait for credit (negative: overdrawn by the last message). */
  get sendCredit(): number {
    return this.credit;
  }

  /** Told once, when the stream ends; `byPeer` when the peer ended it. */
  onEnd(listener: (end: StreamEnd, byPeer: boolean) => void): void {
    if (this.ended_) listener(this.ended_, false);
    else this.endListeners.push(listener);
  }

  /** The peer's messages in order; ends at its half-close, throws its error status or a lost link as ConnectError. */
  async *messages(): AsyncGenerator<Uint8Array> {
    for await (const m of this.inbound) {
      this.queuedBytes -= m.length;
      yield m;
      // The consumer is done with it: give the room back, in batches unless the queue ran dry.
      this.ungranted += m.length;
      if (this.ungranted >= this.opts.windowBytes / 4 || this.inbound.size === 0) {
        this.send(KIND.credit, { bytes: this.ungranted });
        this.ungranted = 0;
      }
    }
  }

  /** Sends one message once there is credit; throws the stream's end if it ends first. */
  async write(message: Uint8Array): Promise<void> {
    while (this.credit <= 0 && !this.ended_) await new Promise<void>((resolve) => this.creditWaiters.push(resolve));
    if (this.ended_) throw endError(this.ended_, "the stream ended before the message was sent");
    this.credit -= message.length;
    if (message.length === 0) return this.send(KIND.fragment, { last: 1 });
    for (let offset = 0; offset < message.length; offset += MAX_FRAGMENT_BYTES) {
      const end = Math.min(message.length, offset + MAX_FRAGMENT_BYTES);
      this.send(KIND.fragment, { last: end === message.length ? 1 : 0 }, message.subarray(offset, end));
    }
  }

  /** No more messages from this side. */
  halfClose(): void {
    if (!this.ended_) this.send(KIND.half, {});
  }

  /** Ends the stream on both sides with this status. No-op once ended. */
  end(end: StreamEnd): void {
    if (this.ended_) return;
    this.send(KIND.end, { code: end.code, message: end.message.slice(0, 1024) });
    this.finish(end, false);
  }

  /** Ends this side only: the peer is gone or unreachable. */
  abandon(end: StreamEnd): void {
    this.finish(end, false);
  }

  private receive(msg: Msg): void {
    const kind = headerOf(msg.headers, "k");
    if (kind === KIND.ping) {
      msg.respond(new Uint8Array(), { headers: wireHeaders({ k: KIND.pong }) });
      return;
    }
    const seq = numberHeader(msg.headers, "s");
    if (seq !== this.receivedSeq + 1)
      return this.fail(
        Code.Unavailable,
        `the cluster link to ${this.opts.peerName} lost messages (expected ${this.receivedSeq + 1}, got ${seq})`,
      );
    this.receivedSeq = seq;
    switch (kind) {
      case KIND.fragment: {
        this.fragments.push(msg.data);
        this.fragmentBytes += msg.data.length;
        if (this.queuedBytes + this.fragmentBytes > this.opts.windowBytes + this.opts.maxMessageBytes)
          return this.fail(Code.ResourceExhausted, `${this.opts.peerName} sent past its credit`);
        if (headerOf(msg.headers, "last") !== "1") return;
        const whole = this.fragments.length === 1 ? this.fragments[0]! : concat(this.fragments, this.fragmentBytes);
        this.fragments = [];
        this.fragmentBytes = 0;
        this.queuedBytes += whole.length;
        this.inbound.push(whole);
        return;
      }
      case KIND.credit: {
        const bytes = numberHeader(msg.headers, "bytes");
        if (!(bytes > 0)) return this.fail(Code.Internal, `${this.opts.peerName} sent a bad credit`);
        this.credit += bytes;
        this.wakeWriters();
        return;
      }
      case KIND.half:
        this.inbound.end();
        return;
      case KIND.end:
        this.finish({ code: numberHeader(msg.headers, "code") || 0, message: headerOf(msg.headers, "message") }, true);
        return;
      default:
        this.fail(Code.Internal, `${this.opts.peerName} sent an unknown stream message "${kind}"`);
    }
  }

  private ping(): void {
    if (this.ended_) return;
    this.nc
      .request(this.peerInbox, new Uint8Array(), {
        timeout: PEER_PING_TIMEOUT_MS,
        headers: wireHeaders({ k: KIND.ping }),
      })
      .catch((err: unknown) => {
        if (this.ended_) return;
        const gone = err instanceof NatsError && err.code === ErrorCode.NoResponders;
        this.abandon({
          code: Code.Unavailable,
          message: gone
            ? `${this.opts.peerName} is gone (it stopped or ended the call)`
            : `${this.opts.peerName} did not answer within ${PEER_PING_TIMEOUT_MS} ms over the cluster link`,
        });
      });
  }

  private fail(code: Code, message: string): void {
    this.end({ code, message });
  }

  private send(kind: string, fields: Record<string, string | number>, data?: Uint8Array): void {
    if (this.peerInbox === "") return;
    this.sendSeq += 1;
    try {
      this.nc.publish(this.peerInbox, data, { headers: wireHeaders({ k: kind, s: this.sendSeq, ...fields }) });
    } catch (err) {
      // The connection closed under us: nothing further can reach the peer.
      this.finish({ code: Code.Unavailable, message: `the cluster link is closed: ${String(err)}` }, false);
    }
  }

  private finish(end: StreamEnd, byPeer: boolean): void {
    if (this.ended_) return;
    this.ended_ = end;
    clearInterval(this.pinger);
    this.subscription.unsubscribe();
    this.inbound.end(end.code === 0 ? undefined : endError(end, ""));
    this.wakeWriters();
    for (const l of this.endListeners) l(end, byPeer);
    this.endListeners.length = 0;
  }

  private wakeWriters(): void {
    const waiters = this.creditWaiters;
    this.creditWaiters = [];
    for (const w of waiters) w();
  }
}

function endError(end: StreamEnd, fallback: string): ConnectError {
  return new ConnectError(end.message || fallback, end.code === 0 ? Code.Aborted : (end.code as Code));
}

function concat(parts: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
