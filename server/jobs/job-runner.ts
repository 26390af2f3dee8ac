import { randomUUID } from "node:crypto";
import { create, fromJsonString, toJsonString } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Insertable } from "kysely";
import type { Logger } from "../../common/logger.js";
import { processSpecOf, type ProcessSpec } from "../../common/process-params.js";
import { ExecParamsSchema, type ExecParams } from "../../gen/rmm/v1/exec_pb.js";
import type { JobStepEnded } from "../../gen/rmm/v1/job_step_pb.js";
import type { Technician } from "../auth/claims.js";
import type { CommandPolicy } from "../policy/command-policy.js";
import { labelsOfRow } from "../services/agent-directory.js";
import type { AgentConnection } from "../services/agent-connection.js";
import type { AgentRegistry } from "../services/agent-registry.js";
import { actorOf, type AuditLog } from "../services/audit-log.js";
import type { CommandAuditTable } from "../store/database.js";
import type { AgentRow, AgentStore, JobRow, JobStore, StepClaim } from "../store/index.js";
import type { ExclusiveSessionGate } from "./exclusive-session-gate.js";
import { EXPIRY_SWEEP_MS, MAX_STEP_OUTPUT_BYTES, WATCHDOG_GRACE_MS } from "./job-defaults.js";
import { JobEvents, type JobEvent } from "./job-events.js";
import { durationOf, parseJobRequest } from "./job-request.js";
import { resolveTargets } from "./job-targets.js";
import { auditRow, outputOf } from "./step-records.js";
import { StepLifecycle, type LiveStep, type StepOutcome } from "./step-lifecycle.js";
import { noStepObserver, type StepObserver } from "./step-observer.js";
import { StepWriter } from "./step-writer.js";
import type { CreateJobRequest } from "../../gen/rmm/v1/job_service_pb.js";

export interface JobRunnerDeps {
  store: JobStore;
  agents: AgentStore;
  registry: AgentRegistry;
  policy: CommandPolicy;
  gate: ExclusiveSessionGate;
  audit: AuditLog;
  log: Logger;
  /** Hears every step that reaches a state (the metrics); defaults to no one. */
  observer?: StepObserver;
  /** Cluster mode: the other nodes, which run the steps of the agents they hold. */
  peers?: JobPeers;
}

/** What a node tells the others about jobs (their steps' changes travel as JobEvents). */
export type JobNews = { type: "created"; jobId: string } | { type: "cancelled"; jobId: string; by: string };

/**
 * The other nodes of a cluster, as the runner needs them: every node runs the
 * steps of the agents it holds, so each learns of every job; the database is
 * what they agree on, and news only saves waiting for the next reconcile.
 */
export interface JobPeers {
  announce(news: JobNews): void;
  /** Of these agents, those some node holds now. */
  online(agentIds: readonly string[]): Promise<Set<string>>;
}

/**
 * Cluster mode: how often a node compares the jobs it drives with the
 * database, so news lost with NATS (or sent before this node started) costs
 * at most this long: new jobs are picked up, cancels applied, steps another
 * node took dropped, and a job whose last step ended on a node that died is
 * finished. Defaults to 5 s: one indexed query per unfinished job.
 */
export const RECONCILE_MS = 5_000;

/** A job with steps still pending or running, as this server drives it. */
interface ActiveJob {
  row: JobRow;
  params: ExecParams;
  spec: ProcessSpec;
  /** In creation order; a step leaves once it is claimed or ends. */
  pending: Map<string, LiveStep>;
  running: Map<string, RunningStep>;
  /** Steps whose claim is being written. */
  claiming: Set<string>;
  /** Cluster mode: a claim found the job's concurrency used up by other nodes; wait for a step to end. */
  full: boolean;
}

interface RunningStep {
  job: ActiveJob;
  step: LiveStep;
  conn: AgentConnection;
  watchdog: NodeJS.Timeout;
}

/** The reason a step lost with a server that died carries (the contract's wording). */
export const SERVER_RESTARTED = "server restarted while running";

/**
 * Drives fleet jobs: plans a job's steps, starts them on online agents
 * within each job's concurrency (oldest job first, one step per agent at a
 * time), catches agents up as they connect, and ends steps from the agents'
 * reports, their disconnects, the watchdog, expiry and cancels. Steps are
 * agent-stream messages of their own: no tunnel session is involved.
 */
export class JobRunner {
  readonly events = new JobEvents();
  readonly writer: StepWriter;
  private readonly lifecycle: StepLifecycle;
  private readonly jobs = new Map<string, ActiveJob>();
  /** Agent id -> the step it runs now. */
  private readonly busy = new Map<string, RunningStep>();
  private readonly claimingAgents = new Set<string>();
  private dispatchQueued = false;
  private sweep: NodeJS.Timeout | undefined;
  private reconciler: NodeJS.Timeout | undefined;
  private reconciling: Promise<void> | undefined;
  private readonly observer: StepObserver;

  constructor(private readonly deps: JobRunnerDeps) {
    this.observer = deps.observer ?? noStepObserver;
    // rowsWritten and batches: the bench's figures of database writes per step.
    this.writer = new StepWriter(
      deps.store,
      this.events,
      deps.log,
      (jobId) =>
        deps.log.info({ jobId, rowsWritten: deps.store.rowsWritten, batches: this.writer.batches }, "job stored"),
      this.observer,
    );
    this.lifecycle = new StepLifecycle({
      writer: this.writer,
      events: this.events,
      log: deps.log,
      observer: this.observer,
    });
    deps.gate.onReleased(() => this.kick());
  }

  /** Picks up what a previous server left: running steps end as error (never run twice), pending ones wait again. */
  async start(): Promise<void> {
    const lost = await this.deps.store.failRunning(Date.now(), SERVER_RESTARTED);
    if (lost > 0) {
      this.deps.log.warn({ steps: lost }, "job steps left running by a previous server marked error");
      this.observer.stepsReached("error", lost);
    }
    const unfinished = (await this.deps.store.unfinished()).sort((a, b) => a.created_at - b.created_at);
    for (const row of unfinished) {
      const job = this.activate(row);
      if (row.state !== "cancelled")
        for (const p of await this.deps.store.pendingFor(row.id)) job.pending.set(p.agent_id, pendingStep(row.id, p));
      this.maybeFinish(job);
    }
    this.sweep = setInterval(() => this.expire(Date.now()), EXPIRY_SWEEP_MS);
    this.sweep.unref();
    if (this.deps.peers) {
      this.reconciler = setInterval(() => void this.reconcileQuietly(), RECONCILE_MS);
      this.reconciler.unref();
    }
    this.kick();
  }

  async close(): Promise<void> {
    clearInterval(this.sweep);
    clearInterval(this.reconciler);
    await this.reconciling;
    for (const r of this.busy.values()) clearTimeout(r.watchdog);
    await this.writer.flush();
  }

  async create(tech: Technician, req: CreateJobRequest): Promise<JobRow> {
    const { store, agents, registry, audit, peers } = this.deps;
    const plan = parseJobRequest(req);
    const targets = await resolveTargets(agents, plan.selector, plan.agentIds);
    if (targets.length === 0)
      throw new ConnectError(`selector "${plan.selector.source}" matches no agent`, Code.FailedPrecondition);
    // In cluster mode an agent held by another node is online too: its node runs the step.
    const online = peers
      ? await peers.online(targets.map((t) => t.id))
      : new Set(targets.filter((t) => registry.get(t.id)).map((t) => t.id));
    const now = Date.now();
    const row: JobRow = {
      id: randomUUID(),
      created_at: now,
      creator: tech.subject,
      role: tech.role,
      selector: plan.selector.source,
      agent_ids: JSON.stringify(plan.agentIds),
      params: toJsonString(ExecParamsSchema, plan.params),
      stdin: plan.stdin.length > 0 ? plan.stdin : null,
      concurrency: plan.concurrency,
      timeout_ms: plan.timeoutMs,
      expires_at: now + plan.expireAfterMs,
      state: "running",
      finished_at: null,
    };
    const refused: Array<Omit<Insertable<CommandAuditTable>, "id">> = [];
    const steps = targets.map((agent) => {
      const base = { job_id: row.id, agent_id: agent.id, hostname: agent.hostname, stdout_bytes: 0, stderr_bytes: 0 };
      const ended = { ...base, started_at: null, ended_at: now };
      if (agent.revoked_at !== null) return { ...ended, state: "error" as const, reason: "the agent is revoked" };
      const decision = this.decide(row, plan.spec, agent);
      if (decision.type === "deny") {
        refused.push(auditRow(row, plan.spec, agent.id, now, "refused", decision.rule, decision.reason));
        return { ...ended, state: "error" as const, reason: decision.reason };
      }
      if (plan.expireAfterMs === 0 && !online.has(agent.id))
        return { ...ended, state: "expired" as const, reason: "offline when the job was created (expire_after 0)" };
      return {
        ...base,
        state: "pending" as const,
        reason: online.has(agent.id) ? null : "waiting for the agent to connect",
      };
    });
    await store.create(row, steps);
    // Steps are created in their first state; every later move is counted by the lifecycle's transition.
    for (const s of steps) this.observer.stepsReached(s.state, 1);
    for (const r of refused) this.writer.refusedAudit(r);
    await audit.record({
      actor: actorOf.technician(tech.subject),
      action: "job.create",
      outcome: "ok",
      reason: JSON.stringify({
        job: row.id,
        argv: [plan.spec.program, ...plan.spec.args],
        selector: row.selector,
        agents: targets.length,
      }).slice(0, 1000),
    });
    const job = this.activate(row);
    for (const s of steps) if (s.state === "pending") job.pending.set(s.agent_id, pendingStep(row.id, s));
    this.deps.log.info(
      { jobId: row.id, creator: tech.subject, steps: steps.length, pending: job.pending.size },
      "job created",
    );
    peers?.announce({ type: "created", jobId: row.id });
    this.maybeFinish(job);
    this.kick();
    return row;
  }

  /** Pending steps end cancelled now; running ones are told to stop. */
  async cancel(tech: Technician, jobId: string): Promise<void> {
    const row = await this.deps.store.get(jobId);
    if (!row) throw new ConnectError(`no job ${jobId}`, Code.NotFound);
    if (row.creator !== tech.subject && tech.role !== "admin")
      throw new ConnectError(
        `job ${jobId} belongs to ${row.creator}; only they or an admin may cancel it`,
        Code.PermissionDenied,
      );
    if (!(await this.deps.store.markCancelled(jobId))) return;
    await this.deps.audit.record({
      actor: actorOf.technician(tech.subject),
      action: "job.cancel",
      outcome: "ok",
      reason: jobId,
    });
    const by = `job cancelled by ${tech.subject}`;
    this.deps.peers?.announce({ type: "cancelled", jobId, by });
    const job = this.jobs.get(jobId);
    if (job) this.applyCancel(job, by);
  }

  /** Another node's news: a job to drive too, or a cancel to apply to the steps held here. */
  async heard(news: JobNews): Promise<void> {
    const known = this.jobs.get(news.jobId);
    if (news.type === "cancelled") {
      if (known && known.row.state !== "cancelled") this.applyCancel(known, news.by);
      return;
    }
    if (known) return;
    const row = await this.deps.store.get(news.jobId);
    if (!row || row.finished_at !== null || this.jobs.has(row.id)) return;
    await this.follow(row);
    this.kick();
  }

  /**
   * A change another node stored: this server's watchers hear it, and a step
   * that left pending there is no longer this node's to start.
   */
  heardEvent(jobId: string, event: JobEvent): void {
    this.events.deliver(jobId, event);
    const job = this.jobs.get(jobId);
    if (!job) return;
    if (event.type === "finished") {
      this.jobs.delete(jobId);
      return;
    }
    const { agent_id: agentId, state } = event.step;
    if (state === "pending" || job.claiming.has(agentId)) return;
    job.pending.delete(agentId);
    if (state !== "running") job.full = false;
    this.maybeFinish(job);
    this.kick();
  }

  /** Pending steps end cancelled now; running ones are told to stop. */
  private applyCancel(job: ActiveJob, by: string): void {
    job.row = { ...job.row, state: "cancelled" };
    for (const step of job.pending.values())
      if (!job.claiming.has(step.agentId)) this.lifecycle.transition(step, "cancelled", { reason: by });
    for (const id of [...job.pending.keys()]) if (!job.claiming.has(id)) job.pending.delete(id);
    for (const r of job.running.values())
      r.conn.send({ case: "jobStepCancel", value: { stepId: stepIdOf(r.step), reason: by } });
    this.maybeFinish(job);
  }

  agentOnline(): void {
    this.kick();
  }

  /** The step the agent ran on that stream cannot report any more. */
  agentOffline(conn: AgentConnection): void {
    const r = this.busy.get(conn.agentId);
    if (r && r.conn === conn)
      this.finish(r, "error", { reason: "the agent disconnected while the step ran; its result is lost" });
    this.kick();
  }

  started(conn: AgentConnection, stepId: string): void {
    const r = this.busy.get(conn.agentId);
    if (r && r.conn === conn && stepIdOf(r.step) === stepId)
      this.deps.log.debug({ stepId }, "job step started on its agent");
  }

  /** An agent's report; a malformed one ends its stream (the contract's limits). */
  ended(conn: AgentConnection, msg: JobStepEnded): void {
    for (const [name, out] of [
      ["stdout", msg.stdout],
      ["stderr", msg.stderr],
    ] as const)
      if (out && (out.head.length > MAX_STEP_OUTPUT_BYTES || out.tail.length > MAX_STEP_OUTPUT_BYTES))
        throw new ConnectError(
          `job_step_ended.${name}: head and tail may hold at most ${MAX_STEP_OUTPUT_BYTES} bytes each`,
          Code.InvalidArgument,
        );
    const r = this.busy.get(conn.agentId);
    if (!r || r.conn !== conn || stepIdOf(r.step) !== msg.stepId) {
      this.deps.log.warn(
        { agentId: conn.agentId, stepId: msg.stepId },
        "report for a job step this agent does not run; ignored",
      );
      return;
    }
    const output = outputOf(msg.stdout, msg.stderr);
    if (!msg.exit) {
      this.finish(r, "error", {
        ...output,
        reason: `${Code[msg.code] ?? msg.code}: ${msg.message || "the agent could not run the step"}`,
      });
      return;
    }
    const e = msg.exit;
    const result = { ...output, exitCode: e.exitCode ?? null, signal: e.signal || null };
    if (e.timedOut)
      this.finish(r, "timed_out", {
        ...result,
        reason: `timed out after ${r.job.row.timeout_ms} ms; the process tree was ended`,
      });
    else if (e.cancelled)
      this.finish(r, "cancelled", {
        ...result,
        reason: r.job.row.state === "cancelled" ? "job cancelled" : "cancelled on the agent",
      });
    else if (e.exitCode === 0) this.finish(r, "succeeded", result);
    else this.finish(r, "failed", { ...result, reason: e.signal ? `ended by ${e.signal}` : `exit code ${e.exitCode}` });
  }

  private finish(
    r: RunningStep,
    to: "succeeded" | "failed" | "error" | "timed_out" | "cancelled",
    outcome: StepOutcome,
  ): void {
    clearTimeout(r.watchdog);
    this.busy.delete(r.step.agentId);
    r.job.running.delete(r.step.agentId);
    r.job.full = false;
    this.lifecycle.transition(r.step, to, outcome);
    this.maybeFinish(r.job);
    this.kick();
  }

  /** Drives a job another node created (or a previous run left): its pending steps as the database has them. */
  private async follow(row: JobRow): Promise<ActiveJob> {
    const pending = row.state === "cancelled" ? [] : await this.deps.store.pendingFor(row.id);
    const job = this.jobs.get(row.id) ?? this.activate(row);
    for (const p of pending) if (!job.pending.has(p.agent_id)) job.pending.set(p.agent_id, pendingStep(row.id, p));
    this.maybeFinish(job);
    return job;
  }

  private async reconcileQuietly(): Promise<void> {
    if (this.reconciling) return;
    this.reconciling = this.reconcile()
      .catch((err: unknown) => this.deps.log.warn({ err }, "could not compare jobs with the database; retrying"))
      .finally(() => (this.reconciling = undefined));
    await this.reconciling;
  }

  /** Cluster mode: the jobs driven here, made to agree with the database (see RECONCILE_MS). */
  private async reconcile(): Promise<void> {
    for (const row of await this.deps.store.unfinished()) {
      const job = this.jobs.get(row.id);
      if (!job) {
        await this.follow(row);
        continue;
      }
      if (row.state === "cancelled" && job.row.state !== "cancelled") this.applyCancel(job, "job cancelled");
      const pending = new Set((await this.deps.store.pendingFor(row.id)).map((p) => p.agent_id));
      for (const id of [...job.pending.keys()]) if (!pending.has(id) && !job.claiming.has(id)) job.pending.delete(id);
      job.full = false;
      this.maybeFinish(job);
    }
    this.kick();
  }

  private activate(row: JobRow): ActiveJob {
    const params = fromJsonString(ExecParamsSchema, row.params);
    const job: ActiveJob = {
      row,
      params,
      spec: processSpecOf(params),
      pending: new Map(),
      running: new Map(),
      claiming: new Set(),
      full: false,
    };
    this.jobs.set(row.id, job);
    return job;
  }

  private maybeFinish(job: ActiveJob): void {
    if (job.pending.size > 0 || job.running.size > 0 || job.claiming.size > 0 || !this.jobs.has(job.row.id)) return;
    this.jobs.delete(job.row.id);
    this.writer.jobFinished(job.row.id, Date.now());
    // In cluster mode the job may still have steps on other nodes: its finish is stored only once none is live.
    if (this.deps.peers) this.deps.log.debug({ jobId: job.row.id }, "no steps of the job left to drive here");
    else this.deps.log.info({ jobId: job.row.id }, "job finished");
  }

  /** The creator's authority as it is now: the policy for their role, on this agent's labels. */
  private decide(row: JobRow, spec: ProcessSpec, agent: AgentRow) {
    return this.deps.policy.checkCommand(row.role, spec.program, spec.args, spec.env, labelsOfRow(agent));
  }

  private kick(): void {
    if (this.dispatchQueued) return;
    this.dispatchQueued = true;
    setImmediate(() => {
      this.dispatchQueued = false;
      this.dispatch();
    });
  }

  private dispatch(): void {
    for (const job of this.jobs.values()) {
      if (job.row.state === "cancelled" || job.full) continue;
      let room = job.row.concurrency - job.running.size - job.claiming.size;
      const batch: LiveStep[] = [];
      for (const step of job.pending.values()) {
        if (room <= 0) break;
        if (job.claiming.has(step.agentId)) continue;
        const conn = this.deps.registry.get(step.agentId);
        if (!conn || this.busy.has(step.agentId) || this.claimingAgents.has(step.agentId)) continue;
        const held = this.deps.gate.exclusiveSessionOn(step.agentId);
        if (held) {
          this.lifecycle.waiting(step, `held back: exclusive session ${held} is open on this agent`);
          continue;
        }
        batch.push(step);
        job.claiming.add(step.agentId);
        this.claimingAgents.add(step.agentId);
        room--;
      }
      if (batch.length > 0)
        void this.claim(job, batch).catch((err: unknown) =>
          this.deps.log.error({ err, jobId: job.row.id }, "could not start job steps; they stay pending"),
        );
    }
  }

  /** Re-checks authority, starts what is still pending in one transaction, then tells the agents. */
  private async claim(job: ActiveJob, batch: LiveStep[]): Promise<void> {
    const { store, agents, registry } = this.deps;
    try {
      const rows = new Map(
        (await agents.list({ afterId: "", limit: batch.length, ids: batch.map((s) => s.agentId) })).map((r) => [
          r.id,
          r,
        ]),
      );
      const now = Date.now();
      const refusals = new Map<string, { reason: string; audit?: Omit<Insertable<CommandAuditTable>, "id"> }>();
      const claims: StepClaim[] = [];
      for (const step of batch) {
        const agent = rows.get(step.agentId);
        const conn = registry.get(step.agentId);
        if (!agent || agent.revoked_at !== null) {
          refusals.set(step.agentId, { reason: "the agent is revoked" });
          continue;
        }
        if (conn && !conn.runsJobSteps) {
          refusals.set(step.agentId, { reason: "the agent does not run job steps (AgentInfo.job_steps): upgrade it" });
          continue;
        }
        const decision = this.decide(job.row, job.spec, agent);
        if (decision.type === "deny") {
          refusals.set(step.agentId, {
            reason: `refused when the step was to start: ${decision.reason}`,
            audit: auditRow(job.row, job.spec, step.agentId, now, "refused", decision.rule, decision.reason),
          });
          continue;
        }
        claims.push({
          jobId: job.row.id,
          agentId: step.agentId,
          startedAt: now,
          audit: auditRow(job.row, job.spec, step.agentId, now, "running", decision.rule, null),
        });
      }
      const { started, deferred } =
        claims.length > 0
          ? await store.claim(claims, this.deps.peers ? job.row.concurrency : undefined)
          : { started: new Map<string, number>(), deferred: new Set<string>() };
      if (deferred.size > 0) job.full = true;
      for (const step of batch) {
        job.claiming.delete(step.agentId);
        this.claimingAgents.delete(step.agentId);
        if (step.state !== "pending" || deferred.has(step.agentId)) continue;
        job.pending.delete(step.agentId);
        const refusal = refusals.get(step.agentId);
        if (refusal) {
          if (refusal.audit) this.writer.refusedAudit(refusal.audit);
          this.lifecycle.transition(step, "error", { reason: refusal.reason });
          continue;
        }
        const auditId = started.get(step.agentId);
        if (auditId === undefined) continue; // started elsewhere or no longer pending in the database
        step.auditId = auditId;
        this.lifecycle.transition(step, "running");
        this.launch(job, step);
      }
    } finally {
      for (const step of batch) {
        job.claiming.delete(step.agentId);
        this.claimingAgents.delete(step.agentId);
      }
      this.maybeFinish(job);
      this.kick();
    }
  }

  private launch(job: ActiveJob, step: LiveStep): void {
    const conn = this.deps.registry.get(step.agentId);
    if (!conn) {
      this.lifecycle.transition(step, "error", { reason: "the agent disconnected before the step could be sent" });
      this.maybeFinish(job);
      return;
    }
    const watchdog = setTimeout(() => {
      const r = this.busy.get(step.agentId);
      if (!r || r.step !== step) return;
      r.conn.send({ case: "jobStepCancel", value: { stepId: stepIdOf(step), reason: "no report in time" } });
      this.finish(r, "timed_out", {
        reason: `the agent did not report within ${job.row.timeout_ms + WATCHDOG_GRACE_MS} ms`,
      });
    }, job.row.timeout_ms + WATCHDOG_GRACE_MS);
    watchdog.unref();
    const r: RunningStep = { job, step, conn, watchdog };
    job.running.set(step.agentId, r);
    this.busy.set(step.agentId, r);
    if (job.row.state === "cancelled") {
      this.finish(r, "cancelled", { reason: "job cancelled before the step was sent" });
      return;
    }
    const sent = conn.send({
      case: "jobStepStart",
      value: {
        stepId: stepIdOf(step),
        jobId: job.row.id,
        params: { ...job.params, timeout: create(DurationSchema, durationOf(job.row.timeout_ms)) },
        stdin: job.row.stdin ?? new Uint8Array(),
        technician: job.row.creator,
      },
    });
    if (!sent) this.finish(r, "error", { reason: "the agent disconnected before the step could be sent" });
  }

  private expire(now: number): void {
    for (const job of this.jobs.values()) {
      if (now < job.row.expires_at || job.pending.size === 0) continue;
      const ago = new Date(job.row.expires_at).toISOString();
      for (const [id, step] of job.pending) {
        if (job.claiming.has(id)) continue;
        job.pending.delete(id);
        this.lifecycle.transition(step, "expired", { reason: `the job expired at ${ago} before the step could run` });
      }
      this.maybeFinish(job);
    }
  }
}

export function stepIdOf(step: { jobId: string; agentId: string }): string {
  return `${step.jobId}/${step.agentId}`;
}

function pendingStep(jobId: string, s: { agent_id: string; hostname: string }): LiveStep {
  return { jobId, agentId: s.agent_id, hostname: s.hostname, state: "pending", startedAt: null, reason: null };
}
