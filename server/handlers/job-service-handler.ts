import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { AsyncQueue } from "../../common/async-queue.js";
import type { JobService, WatchJobRequest, WatchJobResponseSchema } from "../../gen/rmm/v1/job_service_pb.js";
import { DEFAULT_JOBS_PAGE, MAX_JOBS_PAGE, STEP_PAGE } from "../jobs/job-defaults.js";
import type { JobEvent } from "../jobs/job-events.js";
import { jobMessage, stepMessage } from "../jobs/job-messages.js";
import type { JobRunner } from "../jobs/job-runner.js";
import type { JobRow, JobStepSummary, JobStore } from "../store/index.js";
import { technicianOf } from "./technician-of.js";

type WatchInit = MessageInitShape<typeof WatchJobResponseSchema>;

/**
 * JobService. Reading jobs is open to every technician, like ListAgents;
 * creating them goes through the command policy per step, and cancelling is
 * for the creator or an admin.
 */
export function jobServiceHandler(deps: { runner: JobRunner; store: JobStore }): ServiceImpl<typeof JobService> {
  const { runner, store } = deps;
  const load = async (jobId: string): Promise<JobRow> => {
    if (jobId === "") throw new ConnectError("job_id is required", Code.InvalidArgument);
    const row = await store.get(jobId);
    if (!row) throw new ConnectError(`no job ${jobId}: rmm jobs lists them`, Code.NotFound);
    return row;
  };
  const withTotals = async (row: JobRow) => jobMessage(row, (await store.counts([row.id])).get(row.id) ?? {});
  return {
    async createJob(req, ctx) {
      const row = await runner.create(technicianOf(ctx), req);
      return { job: await withTotals(row) };
    },
    async getJob(req, ctx) {
      technicianOf(ctx);
      const row = await load(req.jobId);
      const steps: JobStepSummary[] = [];
      for await (const page of stepPages(store, row.id)) steps.push(...page);
      return { job: await withTotals(row), steps: steps.map(stepMessage) };
    },
    async listJobs(req, ctx) {
      technicianOf(ctx);
      const size = req.pageSize === 0 ? DEFAULT_JOBS_PAGE : Math.min(req.pageSize, MAX_JOBS_PAGE);
      const rows = await store.list({
        limit: size + 1,
        ...(req.pageToken && { before: decodeJobsToken(req.pageToken) }),
      });
      const page = rows.slice(0, size);
      const counts = await store.counts(page.map((r) => r.id));
      const last = page.at(-1);
      return {
        jobs: page.map((r) => jobMessage(r, counts.get(r.id) ?? {})),
        nextPageToken: rows.length > size && last ? encodeJobsToken(last) : "",
      };
    },
    watchJob: (req, ctx) => watchJob(runner, store, req, ctx),
    async cancelJob(req, ctx) {
      const tech = technicianOf(ctx);
      await load(req.jobId);
      await runner.cancel(tech, req.jobId);
      await runner.writer.flush();
      return { job: await withTotals(await load(req.jobId)) };
    },
    async getJobStepOutput(req, ctx) {
      technicianOf(ctx);
      await load(req.jobId);
      const step = await store.step(req.jobId, req.agentId);
      if (!step) throw new ConnectError(`job ${req.jobId} has no step on agent ${req.agentId}`, Code.NotFound);
      const out = (head: Uint8Array | null, tail: Uint8Array | null, total: number) => {
        const h = head ?? new Uint8Array();
        const t = tail ?? new Uint8Array();
        return { head: h, tail: t, totalBytes: BigInt(total), truncated: total > h.length + t.length };
      };
      return {
        step: stepMessage(step),
        stdout: out(step.stdout_head, step.stdout_tail, step.stdout_bytes),
        stderr: out(step.stderr_head, step.stderr_tail, step.stderr_bytes),
      };
    },
  };
}

/**
 * Subscribes before reading the snapshot, and changes are published only
 * once stored: whatever changes after the read arrives as an event, so a
 * late watcher ends with the same state as an early one.
 */
async function* watchJob(
  runner: JobRunner,
  store: JobStore,
  req: WatchJobRequest,
  ctx: HandlerContext,
): AsyncGenerator<WatchInit> {
  technicianOf(ctx);
  if (req.jobId === "") throw new ConnectError("job_id is required", Code.InvalidArgument);
  const queue = new AsyncQueue<JobEvent>();
  const unsubscribe = runner.events.subscribe(req.jobId, (e) => queue.push(e));
  const onAbort = () => queue.end();
  ctx.signal.addEventListener("abort", onAbort);
  try {
    const row = await store.get(req.jobId);
    if (!row) throw new ConnectError(`no job ${req.jobId}: rmm jobs lists them`, Code.NotFound);
    const totals = async (r: JobRow) => jobMessage(r, (await store.counts([r.id])).get(r.id) ?? {});
    yield { kind: { case: "job", value: await totals(row) } };
    for await (const page of stepPages(store, row.id))
      yield { kind: { case: "snapshot", value: { steps: page.map(stepMessage) } } };
    yield { kind: { case: "snapshotDone", value: {} } };
    const now = await store.get(req.jobId);
    if (now && now.finished_at !== null) {
      yield { kind: { case: "finished", value: await totals(now) } };
      return;
    }
    for await (const e of queue) {
      if (e.type === "step") {
        yield { kind: { case: "step", value: stepMessage(e.step) } };
        continue;
      }
      yield { kind: { case: "finished", value: await totals((await store.get(req.jobId)) ?? row) } };
      return;
    }
  } finally {
    ctx.signal.removeEventListener("abort", onAbort);
    unsubscribe();
    queue.end();
  }
}

async function* stepPages(store: JobStore, jobId: string): AsyncGenerator<JobStepSummary[]> {
  for (let after = ""; ;) {
    const page = await store.steps(jobId, { afterAgentId: after, limit: STEP_PAGE });
    if (page.length > 0) yield page;
    if (page.length < STEP_PAGE) return;
    after = page.at(-1)!.agent_id;
  }
}

function encodeJobsToken(row: JobRow): string {
  return Buffer.from(JSON.stringify({ at: row.created_at, id: row.id })).toString("base64url");
}

function decodeJobsToken(token: string): { at: number; id: string } {
  try {
    const v: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    if (typeof v === "object" && v !== null) {
      const { at, id } = v as { at?: unknown; id?: unknown };
      if (typeof at === "number" && typeof id === "string") return { at, id };
    }
  } catch {
    // Falls through to the same error as a well-formed token of the wrong shape.
  }
  throw new ConnectError("page_token is not one this server issued: pass next_page_token", Code.InvalidArgument);
}
