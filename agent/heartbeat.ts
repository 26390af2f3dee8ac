import type { Health } from "./health-probe.js";

/** What the heartbeat needs from the rest of the agent. */
export interface HeartbeatSink {
  sendHeartbeat(health: Health): void;
}

/**
 * Sends a heartbeat every interval while started. Heartbeats are the
 * application-level keepalive: proxies and load balancers drop idle HTTP/2
 * streams whatever PINGs do.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly sink: HeartbeatSink,
    private readonly probe: () => Promise<Health>,
  ) {}

  get running(): boolean {
    return this.timer !== undefined;
  }

  start(intervalMs: number): void {
    this.stop();
    this.timer = setInterval(() => void this.beat(), intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async beat(): Promise<void> {
    const health = await this.probe();
    if (this.running) this.sink.sendHeartbeat(health);
  }
}
