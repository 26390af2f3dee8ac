import type { Insertable } from "kysely";
import type { Logger } from "../../common/logger.js";
import type { CommandAuditTable } from "../store/database.js";
import type { JobStepSummary, JobStore, StepEnd } from "../store/index.js";
import { WRITE_BATCH_BYTES, WRITE_BATCH_STEPS, WRITE_FLUSH_MS } from "./job-defaults.js";
import type { JobEvents } from "./job-events.js";
import { noStepObserver, type StepObserver } from "./step-observer.js";

interface QueuedEnd {
  end: StepEnd;
  event: JobStepSummary;
  audit?: { id: number; set: Partial<Insertable<CommandAuditTable>> };
  bytes: number;
}

/**
 * Step results on their way to the database: queued as they arrive and
 * written together, one transaction per batch (at most WRITE_FLUSH_MS after
 * the first, sooner when a batch fills), so 5,000 results are a few dozen
 * transactions and output is held only until its batch is written. Watchers
 * hear of a change only once it is stored, so a late WatchJob snapshot never
 * misses one.
 */
export class StepWriter {
  private ends: QueuedEnd[] = [];
  private reasons: Array<{ jobId: string; agentId: string; reason: string; event: JobStepSummary }> = [];
  private audited: Array<Omit<Insertable<CommandAuditTable>, "id">> = [];
  private finished: Array<{ id: string; at: number }> = [];
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  /** Batches written, for the bench. */
  batches = 0;

  constructor(
    private readonly store: JobStore,
    private readonly events: JobEvents,
    private readonly log: Logger,
    /** Called once a job's finish is stored (after its last results). */
    private readonly onJobStored: (jobId: string) => void = () => undefined,
    /**
     * Hears of each final move once it is stored. Counted here, not when the move is made: in a
     * cluster every node may try to expire or cancel one pending step, and only one write applies.
     */
    private readonly observer: StepObserver = noStepObserver,
  ) {}

  end(end: StepEnd, event: JobStepSummary, audit?: QueuedEnd["audit"]): void {
    const bytes =
      (end.stdoutHead?.length ?? 0) +
      (end.stdoutTail?.length ?? 0) +
      (end.stderrHead?.length ?? 0) +
      (end.stderrTail?.length ?? 0);
    this.ends.push({ end, event, ...(audit && { audit }), bytes });
    this.queuedBytes += bytes;
    this.schedule();
  }

  /** A pending step says what it waits for. */
  reason(jobId: string, agentId: string, reason: string, event: JobStepSummary): void {
    this.reasons.push({ jobId, agentId, reason, event });
    this.schedule();
  }

  /** A refused step's audit row (refusals are audited, like Exec's). */
  refusedAudit(row: Omit<Insertable<CommandAuditTable>, "id">): void {
    this.audited.push(row);
    this.schedule();
  }

  jobFinished(id: string, at: number): void {
    this.finished.push({ id, at });
    this.schedule();
  }

  /** Writes everything queued so far (and waits for a write under way). */
  async flush(): Promise<void> {
    while (this.flushing || this.pending > 0) {
      if (this.flushing) await this.flushing;
      else await this.writeBatch();
    }
  }

  private get pending(): number {
    return this.ends.length + this.reasons.length + this.audited.length + this.finished.length;
  }

  private schedule(): void {
    if (this.flushing) return;
    if (this.ends.length >= WRITE_BATCH_STEPS || this.queuedBytes >= WRITE_BATCH_BYTES) {
      clearTimeout(this.timer);
      this.timer = undefined;
      void this.writeBatch();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.writeBatch();
    }, WRITE_FLUSH_MS);
  }

  private writeBatch(): Promise<void> {
    if (this.flushing) return this.flushing;
    const ends = this.ends.splice(0, WRITE_BATCH_STEPS);
    const reasons = this.reasons.splice(0);
    const audited = this.audited.splice(0);
    // A job's finish goes in the batch that holds its last results, never before them: watchers are told
    // `finished` when it is written, and must find every result stored by then.
    const finished = this.ends.length === 0 ? this.finished.splice(0) : [];
    this.queuedBytes -= ends.reduce((n, e) => n + e.bytes, 0);
    this.flushing = (async () => {
      try {
        const applied = await this.store.write({
          ends: ends.map((e) => e.end),
          reasons,
          audits: ends.flatMap((e) => (e.audit ? [e.audit] : [])),
          audited,
          finishedJobs: finished,
        });
        this.batches++;
        ends.forEach((e, i) => {
          if (!applied.ends[i]) return;
          this.observer.stepsReached(e.end.to, 1);
          this.events.publish(e.end.jobId, { type: "step", step: e.event });
        });
        // A reason that found its step no longer pending (claimed since it was queued) is stale: watchers
        // told `running` must not hear `pending` after it.
        reasons.forEach((r, i) => {
          if (applied.reasons[i]) this.events.publish(r.jobId, { type: "step", step: r.event });
        });
        // A finish that found steps still live (run or held by other nodes) is left to the node that ends the last.
        finished.forEach((j, i) => {
          if (!applied.finished[i]) return;
          this.events.publish(j.id, { type: "finished" });
          this.onJobStored(j.id);
        });
      } catch (err) {
        // Put the batch back in front: a database outage delays results, it does not lose them.
        this.log.warn({ err, steps: ends.length }, "could not write job step results; retrying");
        this.ends.unshift(...ends);
        this.reasons.unshift(...reasons);
        this.audited.unshift(...audited);
        this.finished.unshift(...finished);
        this.queuedBytes += ends.reduce((n, e) => n + e.bytes, 0);
        await new Promise((r) => setTimeout(r, 500));
      } finally {
        this.flushing = undefined;
      }
      if (this.pending > 0) this.schedule();
    })();
    return this.flushing;
  }
}
