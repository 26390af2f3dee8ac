import {
  constants,
  type OutgoingHttpHeaders,
  type ServerHttp2Stream,
  type ServerStreamResponseOptions,
} from "node:http2";
import type { HandlerContext } from "@connectrpc/connect";

/**
 * The response side of one call on the raw HTTP/2 stream: headers with the
 * first message, flow control, trailers at the end. (Node's compatibility
 * response would add a `date` header and an object per call; a gRPC client
 * reads neither.)
 */
export class ResponseWriter {
  private headersSent = false;

  constructor(
    private readonly stream: ServerHttp2Stream,
    private readonly context: HandlerContext,
  ) {}

  private get gone(): boolean {
    return this.stream.destroyed || this.stream.closed;
  }

  /** Writes one message, already in its envelope; waits while HTTP/2 flow control holds it. False once the caller is gone. */
  async send(enveloped: Uint8Array): Promise<boolean> {
    if (this.gone) return false;
    this.sendHeaders();
    if (this.stream.write(enveloped)) return true;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.stream.off("drain", done);
        this.stream.off("close", done);
        resolve();
      };
      this.stream.once("drain", done);
      this.stream.once("close", done);
    });
    return !this.gone;
  }

  /** Trailers with the call's status; nothing when the caller already hung up. */
  finish(): void {
    if (this.gone) return;
    try {
      this.sendHeaders();
      // Read when the last DATA frame is queued, so a status set up to now is the one sent.
      this.stream.once("wantTrailers", () => {
        if (!this.gone) this.stream.sendTrailers(toNodeHeaders(this.context.responseTrailer));
      });
      this.stream.end();
    } catch {
      // The stream closed between the check and the write: nobody is left to tell.
    }
  }

  private sendHeaders(): void {
    if (this.headersSent) return;
    this.headersSent = true;
    this.stream.respond(
      { ...toNodeHeaders(this.context.responseHeader), [constants.HTTP2_HEADER_STATUS]: 200 },
      // No `date`: gRPC clients never read it, and Node keeps the headers it sent for the stream's life.
      { waitForTrailers: true, sendDate: false } as ServerStreamResponseOptions,
    );
  }
}

function toNodeHeaders(headers: Headers): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  headers.forEach((value, key) => {
    out[key] = value;
  });
  return out;
}
