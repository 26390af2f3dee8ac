import * as net from "node:net";

/**
 * One address in front of several server nodes, as a TCP load balancer is in
 * production: each new connection goes to the first backend that accepts it,
 * in order, so agents behind it land on the first live node and reconnect to
 * the next when it dies.
 */
export class FailoverProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  /** Connections waiting while held: dispatched on release. */
  private held: Array<() => void> | undefined;
  port = 0;

  constructor(private readonly backends: () => readonly number[]) {}

  async start(): Promise<void> {
    const server = net.createServer((client) => {
      this.track(client);
      client.pause();
      const tryNext = (ports: readonly number[]) => {
        const [port, ...rest] = ports;
        if (port === undefined) return client.destroy();
        const upstream = net.connect(port, "127.0.0.1");
        let connected = false;
        upstream.once("error", () => (connected ? client.destroy() : tryNext(rest)));
        upstream.once("connect", () => {
          connected = true;
          this.track(upstream);
          upstream.on("error", () => client.destroy());
          client.on("error", () => upstream.destroy());
          upstream.once("close", () => client.destroy());
          client.once("close", () => upstream.destroy());
          client.pipe(upstream).pipe(client);
          client.resume();
        });
      };
      const dispatch = () => tryNext(this.backends());
      if (this.held) this.held.push(dispatch);
      else dispatch();
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", resolve);
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /** New connections wait (accepted, not forwarded): a balancer that has not yet noticed a backend died. */
  hold(): void {
    this.held ??= [];
  }

  /** Forwards the connections that waited, and every new one. */
  release(): void {
    const waiting = this.held ?? [];
    this.held = undefined;
    for (const dispatch of waiting) dispatch();
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private track(s: net.Socket): void {
    this.sockets.add(s);
    s.once("close", () => this.sockets.delete(s));
  }
}
