import { connect, type ConnectionOptions, type NatsConnection } from "nats";
import type { Logger } from "../../common/logger.js";

/** The link's state: `down` until the first connect, and whenever NATS is unreachable. */
export type LinkState = "connecting" | "up" | "down" | "closed";

const LEGAL: Record<LinkState, readonly LinkState[]> = {
  connecting: ["up", "closed"],
  up: ["down", "closed"],
  down: ["up", "closed"],
  closed: [],
};

/**
 * How often the client pings NATS, and how many pings may go unanswered
 * before it counts the server as gone: a partition (no TCP reset) is noticed
 * within about 3 x 2 s, not the client's default of minutes.
 */
const PING_INTERVAL_MS = 2_000;
const MAX_PINGS_OUT = 3;
/** Wait between reconnect attempts (nats.js adds jitter). Retries never stop. */
const RECONNECT_WAIT_MS = 1_000;

/**
 * This node's connection to NATS. A node starts and serves its own agents
 * without NATS; calls needing another node fail while the link is not `up`.
 * Every message a cross-node stream sends could be lost while the link is
 * down, so each down transition ends them all (listeners of `onDown`).
 */
export class ClusterLink {
  private state_: LinkState = "connecting";
  private nc_: NatsConnection | undefined;
  private readonly downListeners: Array<() => void> = [];
  private readonly upListeners: Array<(nc: NatsConnection) => void> = [];

  constructor(
    private readonly options: ConnectionOptions,
    private readonly log: Logger,
  ) {}

  get state(): LinkState {
    return this.state_;
  }

  /** The connection while the link is up. */
  get connection(): NatsConnection | undefined {
    return this.state_ === "up" ? this.nc_ : undefined;
  }

  onDown(listener: () => void): void {
    this.downListeners.push(listener);
  }

  /** Told on the first connect and on every reconnect. */
  onUp(listener: (nc: NatsConnection) => void): void {
    this.upListeners.push(listener);
  }

  /** Starts connecting in the background; resolves at once. */
  start(): void {
    connect({
      ...this.options,
      waitOnFirstConnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: RECONNECT_WAIT_MS,
      pingInterval: PING_INTERVAL_MS,
      maxPingOut: MAX_PINGS_OUT,
    }).then(
      (nc) => {
        if (this.state_ === "closed") {
          void nc.close();
          return;
        }
        this.nc_ = nc;
        this.watch(nc);
        this.transition("up");
      },
      (err: unknown) => {
        // Only a configuration error ends the first connect (waitOnFirstConnect retries the rest).
        this.log.error({ err: String(err) }, "cluster: cannot connect to NATS; cross-node calls stay unavailable");
        this.transition("closed");
      },
    );
  }

  async close(): Promise<void> {
    const nc = this.nc_;
    this.transition("closed");
    await nc?.drain().catch(() => nc.close());
  }

  private watch(nc: NatsConnection): void {
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === "disconnect") this.transition("down");
        else if (s.type === "reconnect") this.transition("up");
      }
    })();
    void nc.closed().then(() => this.transition("closed"));
  }

  /** The one place the state changes: logs "A -> B" and tells the listeners. */
  private transition(to: LinkState): void {
    const from = this.state_;
    if (from === to || !LEGAL[from].includes(to)) return;
    this.state_ = to;
    this.log.info({ from, to, server: this.nc_?.getServer() }, `cluster link ${from} -> ${to}`);
    if (to === "up" && this.nc_) for (const l of this.upListeners) l(this.nc_);
    if (from === "up") for (const l of this.downListeners) l();
  }
}
