import { cutText } from "../../common/cut-text.js";
import type { AuditLog } from "./audit-log.js";

/** Refusals from one source are summed over this window. Defaults to 60 s. */
export const AUTH_FAILURE_WINDOW_MS = 60_000;
/** Sources tracked per window; refusals from more are summed under one "other sources" entry. Defaults to 1,000. */
export const MAX_AUTH_FAILURE_SOURCES = 1_000;
/** Stands for every source past MAX_AUTH_FAILURE_SOURCES in a window. */
const OTHER_SOURCES = "other sources";

export interface AuthFailure {
  kind: "technician" | "agent";
  /** The peer's address. */
  source: string;
  reason: string;
  /** Set when the refusal concerns a known agent (a revoked one, a hello claiming another id). */
  agentId?: string | undefined;
}

interface Pending {
  kind: AuthFailure["kind"];
  source: string;
  count: number;
  last: AuthFailure;
}

/**
 * Every refused authentication reaches the audit trail, summed per source so
 * a flood writes a bounded number of rows: the first refusal from a source in
 * a window is written at once, the rest of that window as one row at its end.
 * At most 2 x (MAX_AUTH_FAILURE_SOURCES + 1) rows per kind per window, however
 * many attempts arrive.
 */
export class AuthFailureAudit {
  private pending = new Map<string, Pending>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly audit: AuditLog,
    private readonly windowMs = AUTH_FAILURE_WINDOW_MS,
    private readonly maxSources = MAX_AUTH_FAILURE_SOURCES,
  ) {
    this.timer = setInterval(() => void this.flush(), windowMs);
    this.timer.unref();
  }

  record(failure: AuthFailure): void {
    let key = `${failure.kind} ${failure.source}`;
    let source = failure.source;
    if (!this.pending.has(key) && this.pending.size >= this.maxSources) {
      key = `${failure.kind} ${OTHER_SOURCES}`;
      source = OTHER_SOURCES;
    }
    const entry = this.pending.get(key);
    if (entry) {
      entry.count++;
      entry.last = failure;
      return;
    }
    this.pending.set(key, { kind: failure.kind, source, count: 0, last: failure });
    void this.write(source, failure, `${failure.kind} authentication refused from ${source}: ${failure.reason}`);
  }

  /** Writes the sums of the window now ending (also at shutdown). */
  async flush(): Promise<void> {
    const ended = this.pending;
    this.pending = new Map();
    const writes: Promise<void>[] = [];
    for (const { kind, source, count, last } of ended.values()) {
      if (count === 0) continue;
      writes.push(
        this.write(
          source,
          last,
          `${count} more ${kind} authentication refusals from ${source} within ${Math.round(this.windowMs / 1000)} s (the last: ${last.reason})`,
        ),
      );
    }
    await Promise.all(writes);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  private write(source: string, failure: AuthFailure, reason: string): Promise<void> {
    return this.audit.recordBestEffort({
      actor: cutText(`peer:${source}`, 255),
      action: "auth.refused",
      outcome: "refused",
      agentId: failure.agentId,
      reason,
    });
  }
}
