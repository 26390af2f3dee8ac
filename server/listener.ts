import { readFileSync } from "node:fs";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { SessionKeeper, type KeepaliveSettings } from "./connection-keepalive.js";
import type * as stream from "node:stream";

/**
 * Takes an HTTP/2 stream before Node's compatibility layer makes a request
 * and response of it (true), or leaves it to become one (false).
 */
export type StreamHandler = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => boolean;

/** HTTP/1.1 `Upgrade` requests (the browser's WebSocket stream bridge). */
export type UpgradeHandler = (req: http.IncomingMessage, socket: stream.Duplex, head: Buffer) => void;

type RequestHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/**
 * HTTP/2 per-stream window. The default 64 KiB caps one stream at a window per
 * round trip; tunnel data needs room to flow. Defaults to 1 MiB.
 */
export const STREAM_WINDOW_BYTES = 1 << 20;
/** HTTP/2 connection window, shared by an agent's streams. Defaults to 8 MiB. */
export const CONNECTION_WINDOW_BYTES = 8 << 20;

/**
 * Pending-connection queue asked of the kernel. Node's default (511) drops
 * SYNs when thousands of agents reconnect at once after a restart, and each
 * dropped SYN costs that agent a 1 s (then 3 s) TCP retransmit. The kernel
 * caps it at net.core.somaxconn, so raise that to at least 4096 too.
 */
export const LISTEN_BACKLOG = 4096;

/**
 * Streams one HTTP/2 connection may hold open at once. Node's default is
 * unlimited. 1,000: an agent needs one, a technician's client a few hundred
 * at most (a session holds up to 256 channels; a fan-out of Exec calls shares
 * one connection).
 */
export const MAX_STREAMS_PER_CONNECTION = 1_000;

export interface ListenerOptions {
  tls?: TlsFiles | undefined;
  /**
   * A connection with no open stream this long is closed (GOAWAY for HTTP/2;
   * cleartext sockets that never send a first byte are destroyed). Without
   * it, 500 connections that never opened a stream stayed open for good.
   */
  idleConnectionMs: number;
  /** PINGs on connections that open a stream on one of `paths` (the agents' streams). */
  keepalive: KeepaliveSettings & { paths: ReadonlySet<string> };
  /** HTTP/1.1 `Upgrade` requests (the web console's WebSocket stream bridge); refused when absent. */
  upgrade?: UpgradeHandler;
  /** HTTP/2 streams served without a request and response (the gRPC fast path); every stream goes to `handler` when absent. */
  streams?: StreamHandler | undefined;
}

export interface TlsFiles {
  certPath: string;
  keyPath: string;
}

export interface Listener {
  server: net.Server;
  /**
   * Stops accepting, sends GOAWAY to HTTP/2 clients and closes idle HTTP/1.1
   * connections at once, lets in-flight calls finish for up to `graceMs`, then
   * cuts whatever is left.
   */
  shutdown(graceMs: number): Promise<void>;
}

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0");

/**
 * One port for every protocol: with TLS, ALPN picks h2 or HTTP/1.1; in
 * cleartext, the first bytes tell an HTTP/2 client (prior knowledge, as gRPC
 * clients and agents use) from an HTTP/1.1 one (Connect or gRPC-Web from curl
 * or a browser proxy), and the socket is handed to the matching server.
 */
export function createListener(handler: RequestHandler, opts: ListenerOptions): Listener {
  const { tls, upgrade } = opts;
  const sessions = new Set<http2.ServerHttp2Session>();
  const sockets = new Set<net.Socket>();
  const shutdown = async (server: net.Server, graceMs: number, closeIdleHttp1: () => void): Promise<void> => {
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const session of sessions) session.close();
    closeIdleHttp1();
    const cut = setTimeout(() => {
      for (const session of sessions) session.destroy();
      for (const socket of sockets) socket.destroy();
    }, graceMs);
    await stopped;
    clearTimeout(cut);
  };
  const settings = { initialWindowSize: STREAM_WINDOW_BYTES, maxConcurrentStreams: MAX_STREAMS_PER_CONNECTION };
  const track = (socket: net.Socket) => {
    // Tunnel frames are small and latency-bound: never hold them back for Nagle.
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  };
  const keeper = new SessionKeeper(opts.idleConnectionMs, opts.keepalive);
  // One listener per event and no `once` wrappers: these live as long as each agent's connection.
  const trackSession = (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    keeper.add(session);
    session.on("close", () => {
      sessions.delete(session);
      keeper.delete(session);
    });
    // Every SETTINGS from the peer sets the same size (no WINDOW_UPDATE once it is set); a `once` would,
    // when it fired, leave the session's listener table in V8's slow dictionary form.
    session.on("remoteSettings", () => session.setLocalWindowSize(CONNECTION_WINDOW_BYTES));
    session.on("stream", (stream, headers) => {
      keeper.streamOpened(session, opts.keepalive.paths.has(String(headers[":path"])));
      stream.on("close", () => keeper.streamClosed(session));
    });
  };

  if (tls) {
    const server = http2.createSecureServer(
      { cert: readFileSync(tls.certPath), key: readFileSync(tls.keyPath), allowHTTP1: true, settings },
      handler,
    );
    if (opts.streams) streamsFirst(server, opts.streams);
    server.on("session", trackSession);
    server.on("connection", track);
    if (upgrade) server.on("upgrade", upgrade);
    // The secure HTTP/2 server has no closeIdleConnections; its HTTP/1.1 sockets go at the end of the grace.
    return { server, shutdown: (graceMs) => shutdown(server, graceMs, () => undefined) };
  }

  const h2 = http2.createServer({ settings }, handler);
  if (opts.streams) streamsFirst(h2, opts.streams);
  h2.on("session", trackSession);
  const h1 = http.createServer(handler);
  if (upgrade) h1.on("upgrade", upgrade);
  const server = net.createServer((socket) => {
    track(socket);
    socket.on("error", () => socket.destroy());
    // Until its first bytes say which protocol it speaks, nothing else times a socket out.
    socket.setTimeout(opts.idleConnectionMs, () => socket.destroy());
    socket.once("readable", () => {
      socket.setTimeout(0);
      const head: Buffer | null = socket.read();
      if (head === null) return;
      socket.unshift(head);
      const isH2 = head
        .subarray(0, H2_PREFACE.length)
        .equals(H2_PREFACE.subarray(0, Math.min(head.length, H2_PREFACE.length)));
      (isH2 ? h2 : h1).emit("connection", socket);
    });
  });
  return { server, shutdown: (graceMs) => shutdown(server, graceMs, () => h1.closeIdleConnections()) };
}

/**
 * Gives `streams` the first look at every HTTP/2 stream. Node's compatibility
 * layer is the server's own "stream" listener (added with the request
 * handler); it is taken off and called only for the streams `streams` leaves.
 * Checked at start, so a Node release that wires it differently fails every
 * server start rather than serving some streams twice.
 */
function streamsFirst(server: http2.Http2Server | http2.Http2SecureServer, streams: StreamHandler): void {
  const compat = server.listeners("stream");
  if (compat.length !== 1)
    throw new Error(`expected Node's HTTP/2 compatibility layer as the one "stream" listener, found ${compat.length}`);
  const [toRequest] = compat as Array<(...args: unknown[]) => void>;
  server.removeAllListeners("stream");
  server.on("stream", (stream, headers, ...rest: unknown[]) => {
    if (!streams(stream, headers)) toRequest!.call(server, stream, headers, ...rest);
  });
}
