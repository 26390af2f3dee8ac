import type * as http2 from "node:http2";
import { Http2SessionManager, type Http2SessionOptions } from "@connectrpc/connect-node";

/** HTTP/2 per-stream receive window for technician calls. Defaults to 1 MiB. */
export const STREAM_RECEIVE_WINDOW_BYTES = 1 << 20;
/**
 * HTTP/2 connection receive window, shared by every stream on the connection.
 * Node only lets the SETTINGS frame set the per-stream window; the connection
 * window stays at the protocol's 64 KiB unless raised with
 * `setLocalWindowSize`, which caps all streams together at 64 KiB per round
 * trip. Defaults to 8 MiB.
 */
export const CONNECTION_RECEIVE_WINDOW_BYTES = 8 << 20;

/**
 * connect-node's session manager (one HTTP/2 connection, reopened when it
 * dies), with wide receive windows on every connection it opens: the stream
 * window through SETTINGS, the connection window once the session exists.
 *
 * @example
 * ```ts
 * const transport = createGrpcTransport({ baseUrl, sessionManager: new WideWindowSessionManager(baseUrl) });
 * ```
 */
export class WideWindowSessionManager extends Http2SessionManager {
  // Sessions already widened; weak, so closed ones are forgotten with no bookkeeping.
  private readonly widened = new WeakSet<http2.Http2Session>();

  constructor(
    url: URL | string,
    pingOptions?: Http2SessionOptions,
    sessionOptions: http2.ClientSessionOptions | http2.SecureClientSessionOptions = {},
  ) {
    super(url, pingOptions, {
      ...sessionOptions,
      settings: { initialWindowSize: STREAM_RECEIVE_WINDOW_BYTES, ...sessionOptions.settings },
    });
  }

  override async request(
    method: string,
    path: string,
    headers: http2.OutgoingHttpHeaders,
    options: Omit<http2.ClientSessionRequestOptions, "signal">,
  ): Promise<http2.ClientHttp2Stream> {
    const stream = await super.request(method, path, headers, options);
    const session = stream.session;
    // A new connection shows up as the session of its first stream; that stream
    // has not received anything yet, so widening now covers all its data.
    if (session && !this.widened.has(session)) {
      this.widened.add(session);
      session.setLocalWindowSize(CONNECTION_RECEIVE_WINDOW_BYTES);
    }
    return stream;
  }
}
