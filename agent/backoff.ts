/**
 * Reconnect delays: exponential with full jitter (a uniformly random delay
 * between zero and the current ceiling), so ten thousand agents cut off by one
 * server restart spread their return over the whole window instead of arriving
 * together. See "Exponential Backoff And Jitter" (AWS Architecture Blog).
 */

/** First ceiling. */
export const BACKOFF_INITIAL_MS = 1_000;
/** Each failed attempt multiplies the ceiling by this (as gRPC does): 2 let one unlucky agent wait 16 s after a one-second restart. */
export const BACKOFF_MULTIPLIER = 1.6;
/** The ceiling never passes this. */
export const BACKOFF_MAX_MS = 60_000;
/** A connection that stayed up this long counts as stable and resets the ceiling. */
export const BACKOFF_STABLE_AFTER_MS = 30_000;
/**
 * After a stable connection is lost, this many attempts keep the initial
 * ceiling before it grows again (about 5 s of retries at 0.5 s on average),
 * so a server restart of a few seconds costs each agent at most one initial
 * window once the server is back. Growing from the first retry left agents
 * with 2.6-4 s ceilings by the time a restarted server listened: the bench
 * had 1,000 agents back 3.4x slower than they first connected. Retries at a
 * server that is down cost it nothing (the kernel refuses them), and a
 * connection that then fails quickly is not stable, so flapping still backs
 * off exponentially.
 */
export const BACKOFF_REJOIN_ATTEMPTS = 10;

export interface BackoffOptions {
  initialMs?: number;
  multiplier?: number;
  maxMs?: number;
  stableAfterMs?: number;
  /** Attempts at the initial ceiling after a stable connection ends. Defaults to BACKOFF_REJOIN_ATTEMPTS. */
  rejoinAttempts?: number;
  /** Returns a number in [0, 1). Defaults to Math.random; tests pass a fixed one. */
  random?: () => number;
}

export class Backoff {
  private ceiling: number;
  private readonly initialMs: number;
  private readonly multiplier: number;
  private readonly maxMs: number;
  readonly stableAfterMs: number;
  private readonly random: () => number;
  private readonly rejoinAttempts: number;
  /** Attempts left at the initial ceiling (see BACKOFF_REJOIN_ATTEMPTS). */
  private rejoinLeft = 0;

  constructor(opts: BackoffOptions = {}) {
    this.initialMs = opts.initialMs ?? BACKOFF_INITIAL_MS;
    this.multiplier = opts.multiplier ?? BACKOFF_MULTIPLIER;
    this.maxMs = opts.maxMs ?? BACKOFF_MAX_MS;
    this.stableAfterMs = opts.stableAfterMs ?? BACKOFF_STABLE_AFTER_MS;
    this.random = opts.random ?? Math.random;
    this.rejoinAttempts = opts.rejoinAttempts ?? BACKOFF_REJOIN_ATTEMPTS;
    this.ceiling = this.initialMs;
  }

  /** The delay before the next attempt; raises the ceiling for the one after. */
  next(): number {
    const delay = Math.floor(this.random() * this.ceiling);
    if (this.rejoinLeft > 0) this.rejoinLeft--;
    else this.ceiling = Math.min(this.ceiling * this.multiplier, this.maxMs);
    return delay;
  }

  /**
   * A connection ended after `upMs`: if it was stable, start again from the
   * initial ceiling and keep it for the next rejoin attempts.
   */
  connectionEnded(upMs: number): void {
    if (upMs < this.stableAfterMs) return;
    this.ceiling = this.initialMs;
    this.rejoinLeft = this.rejoinAttempts;
  }
}
