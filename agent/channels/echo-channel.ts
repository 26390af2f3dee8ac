import { Code } from "@connectrpc/connect";
import { FORWARD_WINDOW_BYTES } from "../../common/forward-target.js";
import type { ChannelFactory } from "./channel-factory.js";
import type { ChannelHandler, ChannelIo } from "../channel-io.js";

/**
 * Diagnostic channel: sends back every byte it receives, and the peer's eof
 * once everything before it was echoed (data after eof ends the channel with
 * FailedPrecondition, as on exec). Credit for received
 * bytes goes back to the peer only once they have been echoed, so a peer that
 * stops reading stops being able to send: what waits here never exceeds one
 * receive window.
 */
class EchoChannel implements ChannelHandler {
  private readonly pending: Uint8Array[] = [];
  private eof: "no" | "received" | "sent" = "no";

  constructor(private readonly io: ChannelIo) {}

  onData(data: Uint8Array): void {
    if (this.eof !== "no") return this.io.close(Code.FailedPrecondition, "data after eof on an echo channel");
    this.pending.push(data);
    this.pump();
  }

  onEof(): void {
    this.eof = "received";
    this.pump();
  }

  onCredit(): void {
    this.pump();
  }

  onClose(): void {
    this.pending.length = 0;
  }

  private pump(): void {
    while (this.pending.length > 0) {
      const chunk = this.pending[0]!;
      const n = this.io.sendWindow.take(chunk.length);
      if (n === 0) return;
      this.io.sendData(n === chunk.length ? chunk : chunk.subarray(0, n));
      if (n === chunk.length) this.pending.shift();
      else this.pending[0] = chunk.subarray(n);
      this.io.consumed(n);
    }
    if (this.eof === "received") {
      this.eof = "sent";
      this.io.sendEof();
    }
  }
}

/**
 * Echo is how the relay's own speed is measured (`npm run bench`), against
 * bare echo servers whose HTTP/2 stream windows hold 1 MiB in flight; so an
 * echo channel may keep as much in flight (FORWARD_WINDOW_BYTES, as a
 * forwarded TCP connection does), and a technician may ask for as much. On
 * the shared 2-core bench machine 256 KiB and 1 MiB measured the same (25.8
 * and 25.8-26.9 MB/s, alternating runs): the window is for a like-for-like
 * comparison on a quiet machine, where credit round trips are the latency
 * that bounds a channel (see FILE_WINDOW_BYTES).
 */
export const echoChannel: ChannelFactory = Object.assign((io: ChannelIo) => new EchoChannel(io), {
  windowBytes: FORWARD_WINDOW_BYTES,
});
