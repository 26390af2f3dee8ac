import type { Http2ServerResponse } from "node:http2";
import type { HandlerContext } from "@connectrpc/connect";

/** The response side of one call: headers with the first message, flow control, trailers at the end. */
export class ResponseWriter {
  private headersSent = false;

  constructor(
    private readonly res: Http2ServerResponse,
    private readonly context: HandlerContext,
  ) {}

  private get gone(): boolean {
    return this.res.stream.destroyed || this.res.stream.closed;
  }

  /** Writes one message, already in its envelope; waits while HTTP/2 flow control holds it. False once the caller is gone. */
  async send(enveloped: Uint8Array): Promise<boolean> {
    if (this.gone) return false;
    this.sendHeaders();
    if (this.res.write(enveloped)) return true;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.res.off("drain", done);
        this.res.stream.off("close", done);
        resolve();
      };
      this.res.once("drain", done);
      this.res.stream.once("close", done);
    });
    return !this.gone;
  }

  /** Trailers with the call's status; nothing when the caller already hung up. */
  finish(): void {
    if (this.gone) return;
    try {
      this.sendHeaders();
      this.res.addTrailers(toNodeHeaders(this.context.responseTrailer));
      this.res.end();
    } catch {
      // The stream closed between the check and the write: nobody is left to tell.
    }
  }

  private sendHeaders(): void {
    if (this.headersSent) return;
    this.headersSent = true;
    this.res.writeHead(200, toNodeHeaders(this.context.responseHeader));
  }
}

function toNodeHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, key) => {
    out[key] = value;
  });
  return out;
}
