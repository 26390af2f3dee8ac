import * as net from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  FORWARD_WINDOW_BYTES,
  formatTarget,
  forwardTargetOf,
  type ForwardTarget,
} from "../../common/forward-target.js";
import type { ChannelOpen } from "../../gen/rmm/v1/frame_pb.js";
import { OutputPump } from "../process/output-pump.js";
import type { ChannelHandler, ChannelIo } from "../channel-io.js";
import type { ChannelFactory } from "./channel-factory.js";
import { connectErrorOf } from "./connect-error.js";
import { ForwardAllowList } from "./forward-allow.js";

/** How long a TCP channel waits for its target to accept. Defaults to 10 s, as the contract says. */
export const FORWARD_CONNECT_TIMEOUT_MS = 10_000;

export interface TcpChannelOptions {
  /** Targets this agent forwards to (`--forward-allow`); defaults to every target. */
  allow?: ForwardAllowList;
  /** Defaults to FORWARD_CONNECT_TIMEOUT_MS; tests pass a tiny one. */
  connectTimeoutMs?: number;
}

/**
 * One TCP connection from the agent to a target, carried by the channel.
 * What the target sends goes out under the peer's credit (reading pauses when
 * it runs out, so the target's own TCP window closes); what the peer sends is
 * credited back once the socket took it. Each direction's end is its own
 * `eof`, and the channel closes with code 0 once both have ended and the
 * socket is closed; any socket error closes it with the mapped status.
 */
class TcpChannel implements ChannelHandler {
  private readonly socket: net.Socket;
  private readonly pump: OutputPump;
  private readonly timer: NodeJS.Timeout;
  private connected = false;
  private peerEnded = false;
  private eofSent = false;
  private socketClosed = false;
  private done = false;

  constructor(
    private readonly io: ChannelIo,
    target: ForwardTarget,
    connectTimeoutMs: number,
  ) {
    this.socket = net.connect({ host: target.host, port: target.port, allowHalfOpen: true, noDelay: true });
    this.pump = new OutputPump(io, { pause: () => this.socket.pause(), resume: () => this.socket.resume() });
    this.timer = setTimeout(
      () =>
        this.fail(
          Code.DeadlineExceeded,
          `no answer from ${formatTarget(target)} within ${connectTimeoutMs} ms (the agent's connect timeout)`,
        ),
      connectTimeoutMs,
    );
    this.socket.once("connect", () => {
      this.connected = true;
      clearTimeout(this.timer);
    });
    this.socket.on("data", (chunk: Buffer) => this.pump.push(chunk));
    this.socket.once("end", () =>
      this.pump.whenDrained(() => {
        this.eofSent = true;
        this.io.sendEof();
        if (this.socketClosed) this.finish();
      }),
    );
    this.socket.on("error", (err) => {
      const { code, message } = connectErrorOf(err, target, this.connected);
      this.fail(code, message);
    });
    this.socket.once("close", (hadError) => {
      this.socketClosed = true;
      if (hadError) return;
      // Closed with the target's side still queued here: the end handler finishes once that is sent.
      if (this.eofSent) this.finish();
    });
  }

  onData(data: Uint8Array): void {
    if (this.peerEnded) {
      this.fail(Code.FailedPrecondition, "data after eof: the connection's sending side is already closed");
      return;
    }
    // Credit goes back once the socket took the bytes, so a target that does not read stops the sender.
    this.socket.write(data, () => this.io.consumed(data.length));
  }

  onCredit(): void {
    this.pump.pump();
  }

  onEof(): void {
    this.peerEnded = true;
    this.socket.end();
  }

  onClose(): void {
    this.done = true;
    this.pump.clear();
    clearTimeout(this.timer);
    this.socket.destroy();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.io.close(0, "");
  }

  private fail(code: Code, message: string): void {
    if (this.done) return;
    this.done = true;
    this.pump.clear();
    clearTimeout(this.timer);
    this.socket.destroy();
    this.io.close(code, message);
  }
}

/** The `tcp` channel (port forwarding), limited to `opts.allow`. */
export function tcpChannel(opts: TcpChannelOptions = {}): ChannelFactory {
  const allow = opts.allow ?? new ForwardAllowList([]);
  const connectTimeoutMs = opts.connectTimeoutMs ?? FORWARD_CONNECT_TIMEOUT_MS;
  const factory = (io: ChannelIo, open: ChannelOpen): ChannelHandler => {
    if (open.params.case !== "tcp")
      throw new ConnectError("a tcp channel needs tcp parameters (host, port)", Code.InvalidArgument);
    const target = forwardTargetOf(open.params.value);
    const refusal = allow.refusal(target);
    if (refusal) throw new ConnectError(refusal, Code.PermissionDenied);
    return new TcpChannel(io, target, connectTimeoutMs);
  };
  return Object.assign(factory, { windowBytes: FORWARD_WINDOW_BYTES });
}
