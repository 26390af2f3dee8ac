import { create, fromJsonString } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { ExecParamsSchema } from "../../gen/rmm/v1/exec_pb.js";
import {
  JobSchema,
  JobState,
  JobStepSchema,
  StepState,
  type Job,
  type JobStep,
} from "../../gen/rmm/v1/job_service_pb.js";
import type { JobStateName, StepStateName } from "../store/database.js";
import type { JobRow, JobStepSummary, StepCounts } from "../store/index.js";
import { durationOf } from "./job-request.js";

const JOB_STATE: Record<JobStateName, JobState> = {
  running: JobState.RUNNING,
  finished: JobState.FINISHED,
  cancelled: JobState.CANCELLED,
};

export const STEP_STATE: Record<StepStateName, StepState> = {
  pending: StepState.PENDING,
  running: StepState.RUNNING,
  succeeded: StepState.SUCCEEDED,
  failed: StepState.FAILED,
  error: StepState.ERROR,
  timed_out: StepState.TIMED_OUT,
  cancelled: StepState.CANCELLED,
  expired: StepState.EXPIRED,
};

export function jobMessage(row: JobRow, counts: StepCounts): Job {
  const n = (s: StepStateName) => counts[s] ?? 0;
  const total = Object.values(counts).reduce((a, b) => a + (b ?? 0), 0);
  const agentIds: unknown = JSON.parse(row.agent_ids);
  return create(JobSchema, {
    id: row.id,
    creator: row.creator,
    role: row.role,
    selector: row.selector,
    agentIds: Array.isArray(agentIds) ? agentIds.filter((v): v is string => typeof v === "string") : [],
    params: fromJsonString(ExecParamsSchema, row.params),
    concurrency: row.concurrency,
    timeout: durationOf(row.timeout_ms),
    createTime: timestampFromMs(row.created_at),
    expireTime: timestampFromMs(row.expires_at),
    finishTime: row.finished_at === null ? undefined : timestampFromMs(row.finished_at),
    // A cancelled job reads as cancelled whether or not its last running steps have ended.
    state: JOB_STATE[row.state],
    stdinBytes: BigInt(row.stdin?.length ?? 0),
    totals: {
      total,
      pending: n("pending"),
      running: n("running"),
      succeeded: n("succeeded"),
      failed: n("failed"),
      error: n("error"),
      timedOut: n("timed_out"),
      cancelled: n("cancelled"),
      expired: n("expired"),
    },
  });
}

export function stepMessage(s: JobStepSummary): JobStep {
  return create(JobStepSchema, {
    jobId: s.job_id,
    agentId: s.agent_id,
    hostname: s.hostname,
    state: STEP_STATE[s.state],
    ...(s.exit_code !== null && { exitCode: s.exit_code }),
    signal: s.signal ?? "",
    startTime: s.started_at === null ? undefined : timestampFromMs(s.started_at),
    endTime: s.ended_at === null ? undefined : timestampFromMs(s.ended_at),
    reason: s.reason ?? "",
    stdoutBytes: BigInt(s.stdout_bytes),
    stderrBytes: BigInt(s.stderr_bytes),
    firstLine: s.first_line ?? "",
  });
}
