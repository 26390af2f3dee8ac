import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import { StepState, type Job, type JobService, type JobStep } from "../gen/rmm/v1/job_service_pb.js";
import { ExitCode } from "./cli-error.js";
import { table } from "./output-format.js";

/** States as the CLI prints them. */
export const STATE_NAME: Record<StepState, string> = {
  [StepState.UNSPECIFIED]: "?",
  [StepState.PENDING]: "pending",
  [StepState.RUNNING]: "running",
  [StepState.SUCCEEDED]: "succeeded",
  [StepState.FAILED]: "failed",
  [StepState.ERROR]: "error",
  [StepState.TIMED_OUT]: "timed_out",
  [StepState.CANCELLED]: "cancelled",
  [StepState.EXPIRED]: "expired",
};

const FINAL = new Set([
  StepState.SUCCEEDED,
  StepState.FAILED,
  StepState.ERROR,
  StepState.TIMED_OUT,
  StepState.CANCELLED,
  StepState.EXPIRED,
]);

/**
 * Follows a job with WatchJob to its end: the latest state of every step,
 * with a progress line on a terminal (rewritten in place on stderr).
 */
export async function followJob(
  jobs: Client<typeof JobService>,
  jobId: string,
  opts: { signal?: AbortSignal; progress?: boolean } = {},
): Promise<{ job: Job | undefined; steps: JobStep[] }> {
  const steps = new Map<string, JobStep>();
  let job: Job | undefined;
  const progress = opts.progress ?? process.stderr.isTTY === true;
  const draw = () => {
    if (progress) process.stderr.write(`\r\x1b[K${progressLine([...steps.values()])}`);
  };
  for await (const m of jobs.watchJob({ jobId }, opts.signal ? { signal: opts.signal } : {})) {
    switch (m.kind.case) {
      case "job":
        job = m.kind.value;
        break;
      case "snapshot":
        for (const s of m.kind.value.steps) steps.set(s.agentId, s);
        break;
      case "snapshotDone":
        draw();
        break;
      case "step":
        steps.set(m.kind.value.agentId, m.kind.value);
        draw();
        break;
      case "finished":
        job = m.kind.value;
        break;
    }
  }
  if (progress) process.stderr.write(`\r\x1b[K`);
  return {
    job,
    steps: [...steps.values()].sort(
      (a, b) => a.hostname.localeCompare(b.hostname) || a.agentId.localeCompare(b.agentId),
    ),
  };
}

/** `4/6 done, 1 failed, 1 pending (offline)`. */
export function progressLine(steps: readonly JobStep[]): string {
  const done = steps.filter((s) => FINAL.has(s.state)).length;
  const failed = steps.filter((s) => FINAL.has(s.state) && s.state !== StepState.SUCCEEDED).length;
  const pending = steps.filter((s) => s.state === StepState.PENDING).length;
  const running = steps.filter((s) => s.state === StepState.RUNNING).length;
  return `${done}/${steps.length} done, ${failed} failed, ${running} running, ${pending} pending (offline or waiting)`;
}

/** Agent, state, exit, duration and the first line of output, one row per step. */
export function stepTable(steps: readonly JobStep[]): string {
  return table(
    ["AGENT", "ID", "STATE", "EXIT", "DURATION", "OUTPUT"],
    steps.map((s) => [
      s.hostname || "-",
      s.agentId.slice(0, 8),
      STATE_NAME[s.state],
      s.exitCode !== undefined ? String(s.exitCode) : s.signal || "-",
      duration(s),
      (s.state === StepState.SUCCEEDED || s.state === StepState.FAILED ? s.firstLine : s.reason || s.firstLine) || "-",
    ]),
  );
}

export function stepJson(s: JobStep) {
  return {
    agentId: s.agentId,
    hostname: s.hostname,
    state: STATE_NAME[s.state],
    exitCode: s.exitCode ?? null,
    signal: s.signal || null,
    startTime: s.startTime ? new Date(timestampMs(s.startTime)).toISOString() : null,
    endTime: s.endTime ? new Date(timestampMs(s.endTime)).toISOString() : null,
    reason: s.reason || null,
    stdoutBytes: Number(s.stdoutBytes),
    stderrBytes: Number(s.stderrBytes),
    firstLine: s.firstLine || null,
  };
}

/** 0 when every step succeeded, 1 otherwise. */
export function jobExitStatus(steps: readonly JobStep[]): number {
  return steps.length > 0 && steps.every((s) => s.state === StepState.SUCCEEDED) ? 0 : ExitCode.Failure;
}

export function totalsLine(job: Job | undefined): string {
  const t = job?.totals;
  if (!t) return "";
  const parts = [
    `${t.succeeded} succeeded`,
    `${t.failed} failed`,
    `${t.error} error`,
    `${t.timedOut} timed out`,
    `${t.cancelled} cancelled`,
    `${t.expired} expired`,
    `${t.pending} pending`,
  ];
  return `job ${job.id}: ${t.total} agents: ${parts.join(", ")}\n`;
}

function duration(s: JobStep): string {
  if (!s.startTime) return "-";
  const end = s.endTime ? timestampMs(s.endTime) : Date.now();
  const ms = end - timestampMs(s.startTime);
  return ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(1)}s`;
}
