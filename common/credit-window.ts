/**
 * Per-channel flow control. A receiver grants bytes; a sender never sends more
 * than it was granted. Both ends of every hop (technician, server, agent) use
 * these two classes, so no buffer anywhere can grow past one window per channel.
 */

/** Bytes a receiver grants a channel up front. Defaults to 256 KiB: four 64 KiB chunks in flight. */
export const DEFAULT_WINDOW_BYTES = 256 * 1024;
/** Largest grant outstanding at once; keeps the uint32 credit field from overflowing. */
export const MAX_WINDOW_BYTES = 64 * 1024 * 1024;
/**
 * Largest window a technician's OpenChannel may ask for (`initial_credit`). Defaults to 256 KiB, the
 * window the README promises: no buffer on the agent or server grows past it for a technician channel.
 */
export const MAX_TECHNICIAN_WINDOW_BYTES = DEFAULT_WINDOW_BYTES;

export class CreditOverrunError extends Error {
  constructor(
    readonly received: number,
    readonly granted: number,
    what: "data" | "grant" = "data",
  ) {
    super(
      what === "data"
        ? `peer sent ${received} bytes with only ${granted} granted`
        : `peer granted credit up to ${received} bytes outstanding, past its window of ${granted}`,
    );
  }
}

/** The sending side: how much the peer has let us send. */
export class SendWindow {
  private available: number;
  private waiters: Array<() => void> = [];
  private cancelled = false;

  /**
   * @param initialCredit what the peer granted when the channel opened.
   * @param windowBytes the most the peer may have granted outstanding at once: the window it advertised
   *   (its first grant). A grant past it is a protocol fault. Defaults to MAX_WINDOW_BYTES.
   */
  constructor(
    initialCredit: number,
    readonly windowBytes: number = MAX_WINDOW_BYTES,
  ) {
    this.available = initialCredit;
  }

  get credit(): number {
    return this.available;
  }

  /** Adds a grant from the peer's credit frame. */
  grant(bytes: number): void {
    if (!Number.isInteger(bytes) || bytes <= 0)
      throw new RangeError(`credit grant must be a positive integer, got ${bytes}`);
    if (this.available + bytes > this.windowBytes)
      throw new CreditOverrunError(this.available + bytes, this.windowBytes, "grant");
    this.available += bytes;
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** Takes up to `wanted` bytes of credit (at least 1 when any is available); 0 when none is. */
  take(wanted: number): number {
    const n = Math.min(wanted, this.available);
    this.available -= n;
    return n;
  }

  /** The channel ended: credit will never come, so wake and release every waiter. */
  cancel(): void {
    this.cancelled = true;
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** Resolves once some credit is available, or when the signal aborts or the window is cancelled. */
  async ready(signal?: AbortSignal): Promise<void> {
    while (this.available === 0) {
      if (signal?.aborted || this.cancelled) return;
      await new Promise<void>((resolve) => {
        const done = () => {
          signal?.removeEventListener("abort", done);
          resolve();
        };
        this.waiters.push(done);
        signal?.addEventListener("abort", done, { once: true });
      });
    }
  }
}

/** The receiving side: what we granted, and when to grant more. */
export class ReceiveWindow {
  private outstanding: number;
  private consumed = 0;

  constructor(readonly windowBytes: number = DEFAULT_WINDOW_BYTES) {
    this.outstanding = windowBytes;
  }

  /** Bytes the peer may still send without new credit. */
  get granted(): number {
    return this.outstanding;
  }

  /** Accounts for arriving data; throws CreditOverrunError if the peer sent more than granted. */
  received(bytes: number): void {
    if (bytes > this.outstanding) throw new CreditOverrunError(bytes, this.outstanding);
    this.outstanding -= bytes;
  }

  /**
   * The application has processed `bytes`. Returns the credit to grant now, or 0:
   * credit goes back in batches of half a window, so a busy channel sends one
   * credit frame per half window rather than one per data frame.
   */
  processed(bytes: number): number {
    this.consumed += bytes;
    if (this.consumed < this.windowBytes / 2) return 0;
    const grant = this.consumed;
    this.consumed = 0;
    this.outstanding += grant;
    return grant;
  }
}
