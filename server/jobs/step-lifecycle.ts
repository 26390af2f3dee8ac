import type { Insertable } from "kysely";
import type { Logger } from "../../common/logger.js";
import type { CommandAuditTable, CommandOutcome } from "../store/database.js";
import type { JobStepSummary, StepEnd, StepStateName } from "../store/index.js";
import type { JobEvents } from "./job-events.js";
import { noStepObserver, type StepObserver } from "./step-observer.js";
import type { StepWriter } from "./step-writer.js";

/**
 * A job step's life, the one place its states and moves are written out:
 *
 *   pending -> running -> succeeded | failed | error | timed_out | cancelled
 *   pending -> error | cancelled | expired
 *
 * `pending`: waiting for its agent (offline, busy, held by an exclusive
 * session) or for room under the job's concurrency. `error`: it could not run
 * (policy, program missing, agent refused) or was lost (agent or server gone
 * while it ran). Final states never change. The database write that starts a
 * step (pending -> running) is the claim, made before this transition; every
 * other move's write and its audit completion are queued here.
 */
export const STEP_STATES = [
  "pending",
  "running",
  "succeeded",
  "failed",
  "error",
  "timed_out",
  "cancelled",
  "expired",
] as const satisfies readonly StepStateName[];

const LEGAL: Record<StepStateName, readonly StepStateName[]> = {
  pending: ["running", "error", "cancelled", "expired"],
  running: ["succeeded", "failed", "error", "timed_out", "cancelled"],
  succeeded: [],
  failed: [],
  error: [],
  timed_out: [],
  cancelled: [],
  expired: [],
};

/** The command audit outcome each final state is recorded as. */
const AUDIT_OUTCOME: Partial<Record<StepStateName, Exclude<CommandOutcome, "running">>> = {
  succeeded: "completed",
  failed: "completed",
  error: "failed",
  timed_out: "timed_out",
  cancelled: "cancelled",
};

export function isFinal(state: StepStateName): boolean {
  return LEGAL[state].length === 0;
}

/** A step as the server holds it while it is pending or running. */
export interface LiveStep {
  jobId: string;
  agentId: string;
  hostname: string;
  state: StepStateName;
  startedAt: number | null;
  reason: string | null;
  /** The command_audit row, once running. */
  auditId?: number;
}

/** What a move to a final state carries. */
export type StepOutcome = Omit<StepEnd, "jobId" | "agentId" | "from" | "to" | "endedAt">;

export class StepLifecycle {
  constructor(private readonly deps: { writer: StepWriter; events: JobEvents; log: Logger; observer?: StepObserver }) {}

  /** The one guarded transition: throws on an illegal move, logs `from -> to`, owns the write and the event. */
  transition(step: LiveStep, to: StepStateName, outcome: StepOutcome = {}): void {
    const from = step.state;
    if (!LEGAL[from].includes(to))
      throw new Error(`job step ${step.jobId}/${step.agentId}: illegal move ${from} -> ${to}`);
    step.state = to;
    step.reason = outcome.reason ?? null;
    this.deps.log.debug({ jobId: step.jobId, agentId: step.agentId, reason: step.reason }, `${from} -> ${to}`);
    const now = Date.now();
    if (to === "running") {
      // Stored already (the claim); a final move is counted by the writer once stored.
      (this.deps.observer ?? noStepObserver).stepsReached(to, 1);
      step.startedAt = now;
      // Already in the database (the claim); watchers hear at once.
      this.deps.events.publish(step.jobId, { type: "step", step: summaryOf(step, {}) });
      return;
    }
    const end: StepEnd = { ...outcome, jobId: step.jobId, agentId: step.agentId, from: [from], to, endedAt: now };
    const summary = summaryOf(step, { ...outcome, ended_at: now });
    const outcomeName = AUDIT_OUTCOME[to];
    const audit =
      step.auditId !== undefined && outcomeName
        ? {
            id: step.auditId,
            set: {
              outcome: outcomeName,
              ended_at: now,
              exit_code: outcome.exitCode ?? null,
              signal: outcome.signal || null,
              stdout_bytes: outcome.stdoutBytes ?? 0,
              stderr_bytes: outcome.stderrBytes ?? 0,
              message: outcome.reason ? outcome.reason.slice(0, 1024) : null,
            } satisfies Partial<Insertable<CommandAuditTable>>,
          }
        : undefined;
    this.deps.writer.end(end, summary, audit);
  }

  /** A pending step says what it waits for (not a move: it stays pending). */
  waiting(step: LiveStep, reason: string): void {
    if (step.state !== "pending" || step.reason === reason) return;
    step.reason = reason;
    this.deps.writer.reason(step.jobId, step.agentId, reason, summaryOf(step, {}));
  }
}

export function summaryOf(step: LiveStep, end: StepOutcome & { ended_at?: number }): JobStepSummary {
  return {
    job_id: step.jobId,
    agent_id: step.agentId,
    hostname: step.hostname,
    state: step.state,
    started_at: step.startedAt,
    ended_at: end.ended_at ?? null,
    exit_code: end.exitCode ?? null,
    signal: end.signal || null,
    reason: step.reason,
    stdout_bytes: end.stdoutBytes ?? 0,
    stderr_bytes: end.stderrBytes ?? 0,
    first_line: end.firstLine ?? null,
  };
}
