import type { Logger } from "../../common/logger.js";
import type { EpochMs } from "../store/index.js";

/** A clock that differs from the database's by more than this is logged: leases of a few seconds cannot absorb it. */
export const CLOCK_SKEW_WARN_MS = 1_000;

/**
 * The cluster's one time base: the database's clock, read through this
 * host's. Nodes on several hosts compare each other's lease expiries, so a
 * host whose clock runs 10 s ahead would see every live node as dead and
 * close their sessions; every lease time is taken from here instead of
 * Date.now(). sync() (each lease renewal) measures the offset to the
 * database at the middle of one round trip, so the error is at most half
 * that round trip.
 */
export class ClusterClock {
  private offsetMs = 0;
  private warned = false;

  constructor(
    private readonly databaseNow: () => Promise<EpochMs>,
    private readonly log: Logger,
    private readonly localNow: () => number = Date.now,
  ) {}

  now(): EpochMs {
    return this.localNow() + this.offsetMs;
  }

  /** How far the database's clock is ahead of this host's (negative: behind), as last measured. */
  get offset(): number {
    return this.offsetMs;
  }

  async sync(): Promise<void> {
    const before = this.localNow();
    const db = await this.databaseNow();
    const after = this.localNow();
    this.offsetMs = Math.round(db - (before + after) / 2);
    const skewed = Math.abs(this.offsetMs) > CLOCK_SKEW_WARN_MS;
    if (skewed !== this.warned)
      this.log[skewed ? "warn" : "info"](
        { offsetMs: this.offsetMs, roundTripMs: after - before },
        skewed
          ? "cluster: this host's clock differs from the database's; leases use the database's clock (run NTP on every node)"
          : "cluster: this host's clock agrees with the database's again",
      );
    this.warned = skewed;
  }
}
