import type { Logger } from "../../common/logger.js";
import type { NodeStore } from "../store/index.js";
import type { ClusterClock } from "./cluster-clock.js";

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
 * This node's lease in the database, renewed on a timer. A renewal that finds
 * no row to extend after the first means another node counted this one dead,
 * closed its sessions and dropped its lease and agent placement (NodeReaper
 * drops the lease last): `onLapsed` listeners are told, so the node can drop
 * the agents it holds (they reconnect and are placed again) rather than serve
 * sessions the database says are closed. A renewal that is merely late (the
 * database or this process's event loop slow for longer than the lease, as in
 * a connect storm on a busy host) but finds its row still there drops nothing:
 * no reaper finished with the node, and a reaper still at it drops the row,
 * which the next renewal sees. Dropping every agent on lateness alone made a
 * storm feed itself.
 */
export class NodeLease {
  private timer: NodeJS.Timeout | undefined;
  private expiresAt = 0;
  /** Set by the first renewal, once the clock has measured its offset to the database's. */
  private startedAt = 0;
  private readonly lapsedListeners: Array<() => void> = [];
  private renewing: Promise<void> | undefined;

  constructor(
    private readonly nodes: NodeStore,
    private readonly nodeId: string,
    /** Where the node listens, for diagnostics; set again once the listener knows its port. */
    public address: string,
    private readonly log: Logger,
    private readonly clock: ClusterClock,
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
          { err: String(err), nodeId: this.nodeId, expiresInMs: this.expiresAt - this.clock.now() },
          "cluster: could not renew the node lease; retrying",
        ),
      )
      .finally(() => (this.renewing = undefined));
    await this.renewing;
  }

  private async renew(): Promise<void> {
    await this.clock.sync();
    const now = this.clock.now();
    if (this.startedAt === 0) this.startedAt = now;
    const first = this.expiresAt === 0;
    const late = !first && now > this.expiresAt;
    const fresh = await this.nodes.renew({
      id: this.nodeId,
      address: this.address,
      started_at: this.startedAt,
      expires_at: now + this.ttlMs,
    });
    if (late)
      this.log.warn(
        { nodeId: this.nodeId, lateMs: now - this.expiresAt, reclaimed: fresh },
        "cluster: the node lease was renewed after it had expired",
      );
    this.expiresAt = now + this.ttlMs;
    if (fresh && !first) {
      this.log.error(
        { nodeId: this.nodeId },
        "cluster: another node reclaimed this one (its lease had expired); dropping the agents held here",
      );
      for (const l of this.lapsedListeners) l();
    }
  }
}
