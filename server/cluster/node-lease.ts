import type { Logger } from "../../common/logger.js";
import type { NodeStore } from "../store/index.js";

/**
 * How long a node's lease lasts: a node that stops renewing is dead this long
 * after its last renewal, and survivors then close what it held. Defaults to
 * 6 s: three renewals, so one slow database round trip does not kill a node.
 */
export const LEASE_TTL_MS = 6_000;

/**
 * Connections of the lease's own pool. The lease renews on connections of its
 * own: queued behind a connect storm's statements in the node's main pool it
 * lapsed, and a lapsed lease drops every agent of the node, so the storm fed itself.
 */
export const LEASE_POOL_SIZE = 1;

/** Renewals per lease: the node renews every ttl / RENEWALS_PER_LEASE. */
const RENEWALS_PER_LEASE = 3;

/**
 * This node's lease in the database, renewed on a timer. A renewal that
 * lands after the lease had already expired means other nodes may have
 * counted this one dead and closed its sessions: `onLapsed` listeners are
 * told, so the node can drop the agents it holds (they reconnect) rather than
 * serve sessions the database says are closed.
 */
export class NodeLease {
  private timer: NodeJS.Timeout | undefined;
  private expiresAt = 0;
  private readonly startedAt = Date.now();
  private readonly lapsedListeners: Array<() => void> = [];
  private renewing: Promise<void> | undefined;

  constructor(
    private readonly nodes: NodeStore,
    private readonly nodeId: string,
    /** Where the node listens, for diagnostics; set again once the listener knows its port. */
    public address: string,
    private readonly log: Logger,
    readonly ttlMs = LEASE_TTL_MS,
  ) {}

  onLapsed(listener: () => void): void {
    this.lapsedListeners.push(listener);
  }

  /** Takes the lease (throws if the database refuses), then keeps renewing it. */
  async start(): Promise<void> {
    await this.renew();
    this.timer = setInterval(() => void this.renewQuietly(), Math.floor(this.ttlMs / RENEWALS_PER_LEASE));
    this.timer.unref();
  }

  /** Stops renewing and gives the lease up, so survivors need not wait for it to expire. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.renewing;
    await this.nodes.forget(this.nodeId);
  }

  private async renewQuietly(): Promise<void> {
    if (this.renewing) return;
    this.renewing = this.renew()
      .catch((err: unknown) =>
        this.log.warn(
          { err: String(err), nodeId: this.nodeId, expiresInMs: this.expiresAt - Date.now() },
          "cluster: could not renew the node lease; retrying",
        ),
      )
      .finally(() => (this.renewing = undefined));
    await this.renewing;
  }

  private async renew(): Promise<void> {
    const now = Date.now();
    const lapsed = this.expiresAt !== 0 && now > this.expiresAt;
    await this.nodes.renew({
      id: this.nodeId,
      address: this.address,
      started_at: this.startedAt,
      expires_at: now + this.ttlMs,
    });
    this.expiresAt = now + this.ttlMs;
    if (lapsed) {
      this.log.error({ nodeId: this.nodeId }, "cluster: the node lease had expired; dropping the agents held here");
      for (const l of this.lapsedListeners) l();
    }
  }
}
