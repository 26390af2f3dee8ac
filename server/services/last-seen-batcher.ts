import type { Logger } from "../../common/logger.js";
import type { AgentStore } from "../store/index.js";

export interface LastSeenBatcherOptions {
  /** How often last-seen times reach the database. Defaults to 5 s: last_seen_at may lag by that much. */
  flushIntervalMs?: number;
  /** Called with agents found revoked at a flush, so live streams of revoked agents end within one interval. */
  onRevoked?: (agentIds: string[]) => void;
}

export const LAST_SEEN_FLUSH_INTERVAL_MS = 5_000;

/**
 * Collects "agent X was heard from" and writes them in one batched UPDATE per
 * interval, so ten thousand heartbeating agents cost a few statements every few
 * seconds instead of thousands of writes a second.
 */
export class LastSeenBatcher {
  private dirty = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private readonly intervalMs: number;

  constructor(
    private readonly agents: AgentStore,
    private readonly log: Logger,
    private readonly opts: LastSeenBatcherOptions = {},
  ) {
    this.intervalMs = opts.flushIntervalMs ?? LAST_SEEN_FLUSH_INTERVAL_MS;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
  }

  mark(agentId: string): void {
    this.dirty.add(agentId);
  }

  /** Writes what is pending; on failure the ids stay pending for the next flush. */
  flush(): Promise<void> {
    this.flushing ??= this.write().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flushing;
    await this.flush();
  }

  private async write(): Promise<void> {
    if (this.dirty.size === 0) return;
    const ids = [...this.dirty];
    this.dirty = new Set();
    try {
      await this.agents.touchLastSeen(ids, Date.now());
      if (this.opts.onRevoked) {
        const revoked = await this.agents.revokedAmong(ids);
        if (revoked.length > 0) this.opts.onRevoked(revoked);
      }
    } catch (err) {
      for (const id of ids) this.dirty.add(id);
      this.log.warn({ err, pending: this.dirty.size }, "could not record last-seen times; will retry");
    }
  }
}
