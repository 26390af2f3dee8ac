import * as net from "node:net";

/** A loopback TCP proxy a test can cut and restore (a database that goes away and comes back) or freeze (a hung peer). */
export class TcpProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private readonly pairs = new Set<[net.Socket, net.Socket]>();
  /** Connections to the target still open (the target may close them on its own). */
  readonly upstreams = new Set<net.Socket>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async start(): Promise<void> {
    if (this.server) return;
    const server = net.createServer((client) => {
      const upstream = net.connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.once("close", () => this.sockets.delete(s));
        s.once("error", () => {
          client.destroy();
          upstream.destroy();
        });
      }
      const pair: [net.Socket, net.Socket] = [client, upstream];
      this.pairs.add(pair);
      this.upstreams.add(upstream);
      upstream.once("close", () => {
        this.upstreams.delete(upstream);
        this.pairs.delete(pair);
      });
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", resolve);
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /** Drops every connection and refuses new ones. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * Stops carrying bytes either way but keeps every connection open: a peer
   * that froze (no FIN, no RST, no answer), as a hung machine looks.
   */
  freeze(): void {
    for (const [client, upstream] of this.pairs) {
      client.unpipe(upstream);
      client.pause();
      // What the target sends is taken off the wire and lost, as a hung kernel's receive buffer takes it.
      upstream.unpipe(client);
      upstream.on("data", () => undefined).resume();
    }
  }

  /** Listens again on the same port (no-op while listening). */
  restore(): Promise<void> {
    return this.start();
  }
}
