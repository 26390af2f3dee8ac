/**
 * Ends a stream the server has gone silent on. Once the server promised to answer every heartbeat
 * (HelloAck.heartbeat_acks), a stream that brings nothing for `offline_after_ms` is a frozen path (a
 * peer or middlebox that vanished without FIN or RST): the server drops the agent after that same
 * span, so the agent reconnecting then keeps both sides' view of the connection within one
 * offline-after span, instead of waiting out HTTP/2 keepalive (30 s + 10 s).
 */
export class SilenceWatchdog {
  private timer: NodeJS.Timeout | undefined;
  private lastHeardAt = 0;
  private limitMs = 0;

  constructor(private readonly onSilent: (silentMs: number) => void) {}

  get running(): boolean {
    return this.timer !== undefined;
  }

  /** Starts watching: silence longer than `limitMs` calls onSilent once. */
  start(limitMs: number): void {
    this.stop();
    this.limitMs = limitMs;
    this.lastHeardAt = Date.now();
    // Checked four times per span, so silence is noticed at most a quarter span late.
    this.timer = setInterval(() => this.check(), Math.max(10, Math.floor(limitMs / 4)));
    this.timer.unref();
  }

  /** Something arrived from the server. */
  heard(): void {
    this.lastHeardAt = Date.now();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private check(): void {
    const silentMs = Date.now() - this.lastHeardAt;
    if (silentMs <= this.limitMs) return;
    this.stop();
    this.onSilent(silentMs);
  }
}
