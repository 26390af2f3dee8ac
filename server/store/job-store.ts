import type { Insertable, Selectable, Transaction } from "kysely";
import type { CommandAuditTable, Database, Db, EpochMs, JobsTable, JobStepsTable, StepStateName } from "./database.js";

export type JobRow = Selectable<JobsTable>;
export type JobStepRow = Selectable<JobStepsTable>;
/** A step without its kept output: what listings and events carry. */
export type JobStepSummary = Omit<
  JobStepRow,
  "stdout_head" | "stdout_tail" | "stderr_head" | "stderr_tail" | "node_id"
>;

/** Rows per multi-row INSERT: under MySQL's placeholder cap and SQLite's 32,766 variables. */
const INSERT_CHUNK = 500;
/** MySQL caps placeholders per statement; IN lists stay well under it. */
const IN_LIST_CHUNK = 1_000;

const SUMMARY_COLUMNS = [
  "job_id",
  "agent_id",
  "hostname",
  "state",
  "started_at",
  "ended_at",
  "exit_code",
  "signal",
  "reason",
  "stdout_bytes",
  "stderr_bytes",
  "first_line",
] as const;

/** The end of a step: its final state and what it produced. */
export interface StepEnd {
  jobId: string;
  agentId: string;
  from: readonly StepStateName[];
  to: StepStateName;
  endedAt: EpochMs;
  exitCode?: number | null;
  signal?: string | null;
  reason?: string | null;
  stdoutBytes?: number;
  stderrBytes?: number;
  stdoutHead?: Uint8Array | null;
  stdoutTail?: Uint8Array | null;
  stderrHead?: Uint8Array | null;
  stderrTail?: Uint8Array | null;
  firstLine?: string | null;
}

/** One step to start: claimed only if still pending, audited in the same transaction. */
export interface StepClaim {
  jobId: string;
  agentId: string;
  startedAt: EpochMs;
  audit: Omit<Insertable<CommandAuditTable>, "id">;
}

/** What a claim started (agent id -> its command_audit id) and what it left pending for room. */
export interface ClaimResult {
  started: Map<string, number>;
  deferred: Set<string>;
}

/** Steps per state. */
export type StepCounts = Partial<Record<StepStateName, number>>;

/**
 * Jobs and their steps. (job_id, agent_id) is the steps' primary key, and a
 * step starts only through a conditional update from `pending`, so the
 * database itself makes sure no step starts twice. Writes come in batches;
 * `rowsWritten` counts every row inserted or updated (for the bench).
 */
export class JobStore {
  rowsWritten = 0;

  constructor(
    private readonly db: Db,
    /** The cluster node this server is: steps it starts carry it, and it fails only its own at start. Undefined outside cluster mode. */
    private readonly nodeId?: string,
  ) {}

  /** The job and its steps in one transaction, steps in multi-row inserts. */
  async create(job: JobRow, steps: ReadonlyArray<Insertable<JobStepsTable>>): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto("jobs").values(job).execute();
      for (let i = 0; i < steps.length; i += INSERT_CHUNK)
        await trx
          .insertInto("job_steps")
          .values(steps.slice(i, i + INSERT_CHUNK))
          .execute();
    });
    this.rowsWritten += 1 + steps.length;
  }

  async get(id: string): Promise<JobRow | undefined> {
    const row = await this.db.selectFrom("jobs").selectAll().where("id", "=", id).executeTakeFirst();
    return row && normalizeJob(row);
  }

  /** Newest first; `before` is the (created_at, id) of the last job of the previous page. */
  async list(opts: { limit: number; before?: { at: EpochMs; id: string } }): Promise<JobRow[]> {
    let q = this.db.selectFrom("jobs").selectAll();
    const before = opts.before;
    if (before)
      q = q.where((eb) =>
        eb.or([eb("created_at", "<", before.at), eb.and([eb("created_at", "=", before.at), eb("id", "<", before.id)])]),
      );
    const rows = await q.orderBy("created_at", "desc").orderBy("id", "desc").limit(opts.limit).execute();
    return rows.map(normalizeJob);
  }

  /** Jobs not finished yet: what a starting server picks up again. */
  async unfinished(): Promise<JobRow[]> {
    const rows = await this.db.selectFrom("jobs").selectAll().where("finished_at", "is", null).execute();
    return rows.map(normalizeJob);
  }

  async counts(jobIds: readonly string[]): Promise<Map<string, StepCounts>> {
    const out = new Map<string, StepCounts>(jobIds.map((id) => [id, {}]));
    for (let i = 0; i < jobIds.length; i += IN_LIST_CHUNK) {
      const rows = await this.db
        .selectFrom("job_steps")
        .select(["job_id", "state", (eb) => eb.fn.countAll<number | string>().as("n")])
        .where("job_id", "in", jobIds.slice(i, i + IN_LIST_CHUNK))
        .groupBy(["job_id", "state"])
        .execute();
      for (const r of rows) out.get(r.job_id)![r.state] = Number(r.n);
    }
    return out;
  }

  /** Steps in agent id order after `afterAgentId`, without output. */
  async steps(jobId: string, opts: { afterAgentId?: string; limit: number; states?: StepStateName[] }) {
    let q = this.db
      .selectFrom("job_steps")
      .select(SUMMARY_COLUMNS)
      .where("job_id", "=", jobId)
      .where("agent_id", ">", opts.afterAgentId ?? "");
    if (opts.states) q = q.where("state", "in", opts.states);
    const rows = await q.orderBy("agent_id").limit(opts.limit).execute();
    return rows.map(normalizeStep);
  }

  async step(jobId: string, agentId: string): Promise<JobStepRow | undefined> {
    const row = await this.db
      .selectFrom("job_steps")
      .selectAll()
      .where("job_id", "=", jobId)
      .where("agent_id", "=", agentId)
      .executeTakeFirst();
    return row && { ...normalizeStep(row), ...bytesOf(row) };
  }

  /** Pending steps of unfinished jobs for one agent: what it runs when it comes back. */
  async pendingFor(jobId: string): Promise<Array<{ agent_id: string; hostname: string }>> {
    return this.db
      .selectFrom("job_steps")
      .select(["agent_id", "hostname"])
      .where("job_id", "=", jobId)
      .where("state", "=", "pending")
      .execute();
  }

  /**
   * Starts steps still pending, each with its audit row; returns the audit row
   * id of each step this call started (a step another call or server started,
   * or that was cancelled meanwhile, is left out). With `concurrency`, in
   * cluster mode, the job's row is locked and steps running on any node count
   * against it: those past it are `deferred`, still pending, for a later claim.
   */
  async claim(claims: readonly StepClaim[], concurrency?: number): Promise<ClaimResult> {
    const started = new Map<string, number>();
    const deferred = new Set<string>();
    await this.db.transaction().execute(async (trx) => {
      let room = Infinity;
      const jobId = claims[0]?.jobId;
      // SQLite serializes writers itself and has no FOR UPDATE; it is never shared by nodes.
      if (concurrency !== undefined && this.nodeId !== undefined && jobId !== undefined) {
        await trx.selectFrom("jobs").select("id").where("id", "=", jobId).forUpdate().execute();
        const running = await trx
          .selectFrom("job_steps")
          .select((eb) => eb.fn.countAll<number | string>().as("n"))
          .where("job_id", "=", jobId)
          .where("state", "=", "running")
          .executeTakeFirstOrThrow();
        room = concurrency - Number(running.n);
      }
      for (const c of claims) {
        if (started.size >= room) {
          deferred.add(c.agentId);
          continue;
        }
        const res = await trx
          .updateTable("job_steps")
          .set({ state: "running", started_at: c.startedAt, reason: null, node_id: this.nodeId ?? null })
          .where("job_id", "=", c.jobId)
          .where("agent_id", "=", c.agentId)
          .where("state", "=", "pending")
          .executeTakeFirst();
        if (res.numUpdatedRows === 0n) continue;
        const audit = await trx.insertInto("command_audit").values(c.audit).executeTakeFirstOrThrow();
        started.set(c.agentId, Number(audit.insertId));
      }
    });
    this.rowsWritten += started.size * 2;
    return { started, deferred };
  }

  /**
   * Writes a batch in one transaction; returns which ends and which reasons applied: a step already past
   * `from` is left alone, and a reason lands only on a step still pending (one claimed meanwhile keeps none).
   */
  async write(batch: {
    ends: readonly StepEnd[];
    reasons: ReadonlyArray<{ jobId: string; agentId: string; reason: string }>;
    audits: ReadonlyArray<{ id: number; set: Partial<Insertable<CommandAuditTable>> }>;
    audited: ReadonlyArray<Omit<Insertable<CommandAuditTable>, "id">>;
    finishedJobs: ReadonlyArray<{ id: string; at: EpochMs }>;
  }): Promise<{ ends: boolean[]; reasons: boolean[]; finished: boolean[] }> {
    const applied: boolean[] = [];
    const reasons: boolean[] = [];
    const finished: boolean[] = [];
    await this.db.transaction().execute(async (trx) => {
      for (const end of batch.ends) applied.push(await writeEnd(trx, end));
      for (const r of batch.reasons) {
        const res = await trx
          .updateTable("job_steps")
          .set({ reason: r.reason.slice(0, 1024) })
          .where("job_id", "=", r.jobId)
          .where("agent_id", "=", r.agentId)
          .where("state", "=", "pending")
          .executeTakeFirst();
        reasons.push(res.numUpdatedRows > 0n);
      }
      for (const a of batch.audits)
        await trx
          .updateTable("command_audit")
          .set(a.set)
          .where("id", "=", a.id)
          .where("outcome", "=", "running")
          .execute();
      for (let i = 0; i < batch.audited.length; i += INSERT_CHUNK)
        await trx
          .insertInto("command_audit")
          .values(batch.audited.slice(i, i + INSERT_CHUNK))
          .execute();
      for (const j of batch.finishedJobs) {
        // In cluster mode other nodes may still run or hold steps of the job: it finishes once none is live.
        const live =
          this.nodeId === undefined
            ? undefined
            : await trx
                .selectFrom("job_steps")
                .select("agent_id")
                .where("job_id", "=", j.id)
                .where("state", "in", ["pending", "running"])
                .limit(1)
                .executeTakeFirst();
        if (live) {
          finished.push(false);
          continue;
        }
        await trx
          .updateTable("jobs")
          .set({ state: "finished" })
          .where("id", "=", j.id)
          .where("state", "=", "running")
          .execute();
        const res = await trx
          .updateTable("jobs")
          .set({ finished_at: j.at })
          .where("id", "=", j.id)
          .where("finished_at", "is", null)
          .executeTakeFirst();
        finished.push(res.numUpdatedRows > 0n);
      }
    });
    this.rowsWritten +=
      applied.filter(Boolean).length +
      reasons.filter(Boolean).length +
      batch.audits.length +
      batch.audited.length +
      finished.filter(Boolean).length;
    return { ends: applied, reasons, finished };
  }

  /** Marks the job cancelled (it stays unfinished while steps still run). */
  async markCancelled(id: string): Promise<boolean> {
    const res = await this.db
      .updateTable("jobs")
      .set({ state: "cancelled" })
      .where("id", "=", id)
      .where("state", "=", "running")
      .executeTakeFirst();
    this.rowsWritten += Number(res.numUpdatedRows);
    return res.numUpdatedRows > 0n;
  }

  /**
   * Steps running when a server died can never report: they end as `error`,
   * never started again. In cluster mode only this node's steps (its earlier run's); outside it, every one.
   * With `startedBy` (a dead node's reaper), only steps started by then: later ones are a restart's.
   */
  async failRunning(at: EpochMs, reason: string, startedBy?: EpochMs): Promise<number> {
    let q = this.db
      .updateTable("job_steps")
      .set({ state: "error", ended_at: at, reason })
      .where("state", "=", "running");
    if (this.nodeId !== undefined) q = q.where("node_id", "=", this.nodeId);
    if (startedBy !== undefined) q = q.where("started_at", "<=", startedBy);
    const res = await q.executeTakeFirst();
    return Number(res.numUpdatedRows);
  }
}

async function writeEnd(trx: Transaction<Database>, end: StepEnd): Promise<boolean> {
  const res = await trx
    .updateTable("job_steps")
    .set({
      state: end.to,
      ended_at: end.endedAt,
      exit_code: end.exitCode ?? null,
      signal: end.signal || null,
      reason: end.reason ? end.reason.slice(0, 1024) : null,
      stdout_bytes: end.stdoutBytes ?? 0,
      stderr_bytes: end.stderrBytes ?? 0,
      stdout_head: end.stdoutHead ?? null,
      stdout_tail: end.stdoutTail ?? null,
      stderr_head: end.stderrHead ?? null,
      stderr_tail: end.stderrTail ?? null,
      first_line: end.firstLine ?? null,
    })
    .where("job_id", "=", end.jobId)
    .where("agent_id", "=", end.agentId)
    .where("state", "in", end.from)
    .executeTakeFirst();
  return res.numUpdatedRows > 0n;
}

/** MySQL returns BIGINT columns as strings. */
function normalizeJob(row: JobRow): JobRow {
  return {
    ...row,
    created_at: Number(row.created_at),
    timeout_ms: Number(row.timeout_ms),
    expires_at: Number(row.expires_at),
    finished_at: row.finished_at === null ? null : Number(row.finished_at),
    stdin: row.stdin === null ? null : new Uint8Array(row.stdin),
  };
}

function normalizeStep<T extends JobStepSummary>(row: T): T {
  return {
    ...row,
    started_at: row.started_at === null ? null : Number(row.started_at),
    ended_at: row.ended_at === null ? null : Number(row.ended_at),
    stdout_bytes: Number(row.stdout_bytes),
    stderr_bytes: Number(row.stderr_bytes),
  };
}

function bytesOf(row: JobStepRow) {
  const b = (v: Uint8Array | null) => (v === null ? null : new Uint8Array(v));
  return {
    stdout_head: b(row.stdout_head),
    stdout_tail: b(row.stdout_tail),
    stderr_head: b(row.stderr_head),
    stderr_tail: b(row.stderr_tail),
  };
}
