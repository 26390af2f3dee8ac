import * as net from "node:net";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { FORWARD_WINDOW_BYTES, formatTarget, type ForwardTarget } from "../common/forward-target.js";
import { ChannelType } from "../gen/rmm/v1/frame_pb.js";
import type { TunnelService } from "../gen/rmm/v1/tunnel_service_pb.js";
import { ChannelClient } from "./channel-client.js";

/** Where a forward listens by default: loopback only, as ssh -L does. */
export const DEFAULT_LISTEN_HOST = "127.0.0.1";

/** One local listener and the target its connections reach through the agent. */
export interface ForwardSpec {
  /** Local address to listen on; defaults to DEFAULT_LISTEN_HOST. */
  listenHost?: string;
  /** Local port; 0 picks a free one (see PortForward.listeners). */
  listenPort: number;
  /** The target as the agent reaches it. */
  target: ForwardTarget;
}

/** How one forwarded connection went. */
export interface ForwardedConnection {
  /** The local peer, `host:port`. */
  from: string;
  target: ForwardTarget;
  /** Local client -> target. */
  bytesOut: number;
  /** Target -> local client. */
  bytesIn: number;
  durationMs: number;
  /** Undefined when the connection ended cleanly. */
  error?: { code: Code; message: string };
}

export interface PortForwardOptions {
  sessionId: string;
  specs: readonly ForwardSpec[];
  /** Called once per connection, when it has ended. */
  onConnection?: (c: ForwardedConnection) => void;
}

/** A listener that is up: where it listens and what it reaches. */
export interface BoundListener {
  host: string;
  port: number;
  target: ForwardTarget;
}

/** Thrown when a local address cannot be listened on; `errno` says why (EADDRINUSE, EACCES, ...). */
export class ListenError extends Error {
  constructor(
    readonly address: string,
    readonly errno: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Local port forwarding through a tunnel session, like `ssh -L`: each
 * connection accepted on a local listener gets a tcp channel of its own to
 * the target, carried both ways under the channel's credit (a slow local
 * reader stalls only its own channel), with each side's end of input passed
 * on as half-close. A channel that ends with an error resets its local
 * connection; close() ends every connection and listener.
 */
export class PortForward {
  private readonly connections = new Set<{ socket: net.Socket; channel?: ChannelClient }>();
  private closing = false;

  private constructor(
    private readonly client: Client<typeof TunnelService>,
    private readonly opts: PortForwardOptions,
    private readonly servers: net.Server[],
    readonly listeners: readonly BoundListener[],
  ) {}

  /** Listens on every spec's address; if one cannot be bound, none stays bound and ListenError says which. */
  static async listen(client: Client<typeof TunnelService>, opts: PortForwardOptions): Promise<PortForward> {
    const servers: net.Server[] = [];
    const listeners: BoundListener[] = [];
    let forward: PortForward | undefined;
    try {
      for (const spec of opts.specs) {
        const host = spec.listenHost ?? DEFAULT_LISTEN_HOST;
        const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (socket) =>
          forward?.accept(socket, spec.target),
        );
        servers.push(server);
        await new Promise<void>((resolve, reject) => {
          server.once("error", (err: NodeJS.ErrnoException) => {
            const where = formatTarget({ host, port: spec.listenPort });
            const why =
              err.code === "EADDRINUSE"
                ? `${where} is already in use: pick another local port (0 picks a free one)`
                : err.code === "EACCES"
                  ? `may not listen on ${where} (ports under 1024 need privileges)`
                  : `cannot listen on ${where}: ${err.message}`;
            reject(new ListenError(where, err.code ?? "", why));
          });
          server.listen(spec.listenPort, host, () => resolve());
        });
        const address = server.address() as net.AddressInfo;
        listeners.push({ host, port: address.port, target: spec.target });
      }
    } catch (err) {
      for (const server of servers) server.close();
      throw err;
    }
    forward = new PortForward(client, opts, servers, listeners);
    return forward;
  }

  /** Connections being forwarded now. */
  get active(): number {
    return this.connections.size;
  }

  /** Stops listening and ends every connection (their channels are closed with `Canceled` and `reason`). */
  async close(reason = "the port forward was stopped"): Promise<void> {
    this.closing = true;
    const closed = this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    for (const c of this.connections) {
      c.channel?.close(Code.Canceled, reason);
      if (!c.socket.destroyed) c.socket.resetAndDestroy();
    }
    await Promise.all(closed);
  }

  private accept(socket: net.Socket, target: ForwardTarget): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const entry: { socket: net.Socket; channel?: ChannelClient } = { socket };
    this.connections.add(entry);
    const from = formatTarget({ host: socket.remoteAddress ?? "?", port: socket.remotePort ?? 0 });
    const startedAt = performance.now();
    void this.carry(entry, target).then((r) => {
      this.connections.delete(entry);
      this.opts.onConnection?.({ from, target, durationMs: performance.now() - startedAt, ...r });
    });
  }

  /** Runs one connection until both its socket and its channel have ended. */
  private async carry(
    entry: { socket: net.Socket; channel?: ChannelClient },
    target: ForwardTarget,
  ): Promise<Omit<ForwardedConnection, "from" | "target" | "durationMs">> {
    const { socket } = entry;
    let bytesOut = 0;
    let bytesIn = 0;
    const socketClosed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    // A local reset is reported through the channel's close below; the socket's own error needs no more.
    socket.on("error", () => undefined);
    let channel: ChannelClient;
    try {
      channel = await ChannelClient.open(this.client, {
        sessionId: this.opts.sessionId,
        type: ChannelType.TCP,
        params: { case: "tcp", value: { host: target.host, port: target.port } },
        windowBytes: FORWARD_WINDOW_BYTES,
      });
    } catch (err) {
      socket.resetAndDestroy();
      const e = ConnectError.from(err);
      return { bytesOut, bytesIn, error: { code: e.code, message: e.rawMessage } };
    }
    entry.channel = channel;
    if (this.closing || socket.destroyed)
      channel.close(Code.Canceled, "the local connection ended before the channel opened");
    // One write at a time, in order: the socket stays paused while the agent's credit is short, and the end of
    // input follows the last write (it may arrive while that write still waits for credit).
    let writing = Promise.resolve();
    socket.on("data", (chunk: Buffer) => {
      bytesOut += chunk.length;
      socket.pause();
      writing = channel.write(chunk).then(
        () => void socket.resume(),
        () => void socket.destroy(),
      );
    });
    socket.once("end", () => void writing.then(() => channel.endInput()));
    socket.once("close", (hadError) => {
      if (hadError) channel.close(Code.Canceled, "the local connection was reset");
    });
    socket.resume();
    const toLocal = (async () => {
      for await (const data of channel.data()) {
        bytesIn += data.length;
        if (socket.destroyed) continue;
        if (!socket.write(data)) await drainedOrClosed(socket);
      }
    })();
    // The target's end of data is the local connection's; a channel that failed resets it instead, as a failed TCP connection would.
    await toLocal;
    if (channel.peerEnded && !socket.destroyed) socket.end();
    const end = await channel.ended;
    if (end.code !== 0 && !socket.destroyed) socket.resetAndDestroy();
    else if (!socket.destroyed) socket.end();
    await socketClosed;
    return { bytesOut, bytesIn, ...(end.code !== 0 && { error: { code: end.code as Code, message: end.message } }) };
  }
}

/** Resolves when the socket can take more, or when it closed (what was written is then lost with it). */
function drainedOrClosed(socket: net.Socket): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      socket.off("drain", done);
      socket.off("close", done);
      resolve();
    };
    socket.once("drain", done);
    socket.once("close", done);
  });
}
