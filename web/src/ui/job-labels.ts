import type { ExecParams } from "../../../gen/rmm/v1/exec_pb.js";
import { JobState, StepState, type JobTotals } from "../../../gen/rmm/v1/job_service_pb.js";

/** How the console names step states, and the badge colour class of each. */
export const STEP_STATE: Record<StepState, { label: string; tone: "wait" | "run" | "ok" | "bad" | "off" }> = {
  [StepState.UNSPECIFIED]: { label: "unknown", tone: "off" },
  [StepState.PENDING]: { label: "pending", tone: "wait" },
  [StepState.RUNNING]: { label: "running", tone: "run" },
  [StepState.SUCCEEDED]: { label: "succeeded", tone: "ok" },
  [StepState.FAILED]: { label: "failed", tone: "bad" },
  [StepState.ERROR]: { label: "error", tone: "bad" },
  [StepState.TIMED_OUT]: { label: "timed out", tone: "bad" },
  [StepState.CANCELLED]: { label: "cancelled", tone: "off" },
  [StepState.EXPIRED]: { label: "expired", tone: "off" },
};

export const JOB_STATE: Record<JobState, string> = {
  [JobState.UNSPECIFIED]: "unknown",
  [JobState.RUNNING]: "running",
  [JobState.FINISHED]: "finished",
  [JobState.CANCELLED]: "cancelled",
};

/** A step that will not change again. */
export function stepIsFinal(state: StepState): boolean {
  return state !== StepState.PENDING && state !== StepState.RUNNING && state !== StepState.UNSPECIFIED;
}

/** What a job runs, as one line: the shell's command line, or the argv joined. */
export function commandText(params: ExecParams | undefined): string {
  if (params?.shellCommand) return params.shellCommand.commandLine;
  return (params?.argv ?? []).join(" ");
}

/** Steps that ended, out of all of them. */
export function doneCount(t: JobTotals | undefined): number {
  if (!t) return 0;
  return t.succeeded + t.failed + t.error + t.timedOut + t.cancelled + t.expired;
}

/** "2 succeeded, 1 failed, 3 pending": the non-zero totals. */
export function totalsText(t: JobTotals | undefined): string {
  if (!t) return "";
  const parts: Array<[number, string]> = [
    [t.succeeded, "succeeded"],
    [t.failed, "failed"],
    [t.error, "error"],
    [t.timedOut, "timed out"],
    [t.cancelled, "cancelled"],
    [t.expired, "expired"],
    [t.running, "running"],
    [t.pending, "pending"],
  ];
  return (
    parts
      .filter(([n]) => n > 0)
      .map(([n, what]) => `${n} ${what}`)
      .join(", ") || "no steps"
  );
}
