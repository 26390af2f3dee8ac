import type { Insertable } from "kysely";
import type { ProcessSpec } from "../../common/process-params.js";
import type { StepOutput } from "../../gen/rmm/v1/job_step_pb.js";
import type { CommandAuditTable } from "../store/database.js";
import type { JobRow } from "../store/index.js";
import { FIRST_LINE_CHARS } from "./job-defaults.js";
import type { StepOutcome } from "./step-lifecycle.js";

/** A job step's command_audit row: like Exec's, with the job id and no session. */
export function auditRow(
  job: JobRow,
  spec: ProcessSpec,
  agentId: string,
  at: number,
  outcome: "running" | "refused",
  rule: string,
  message: string | null,
): Omit<Insertable<CommandAuditTable>, "id"> {
  return {
    kind: "exec",
    technician: job.creator,
    role: job.role,
    agent_id: agentId,
    session_id: "",
    channel_id: null,
    argv: JSON.stringify([spec.program, ...spec.args]),
    working_directory: spec.cwd,
    started_at: at,
    ended_at: outcome === "refused" ? at : null,
    outcome,
    stdout_bytes: 0,
    stderr_bytes: 0,
    policy_rule: rule,
    recording_path: null,
    message: message ? message.slice(0, 1024) : null,
    job_id: job.id,
  };
}

export function outputOf(stdout: StepOutput | undefined, stderr: StepOutput | undefined): StepOutcome {
  const firstLine = firstLineOf(stdout?.head) ?? firstLineOf(stderr?.head) ?? null;
  return {
    stdoutBytes: Number(stdout?.totalBytes ?? 0),
    stderrBytes: Number(stderr?.totalBytes ?? 0),
    stdoutHead: stdout?.head.length ? stdout.head : null,
    stdoutTail: stdout?.tail.length ? stdout.tail : null,
    stderrHead: stderr?.head.length ? stderr.head : null,
    stderrTail: stderr?.tail.length ? stderr.tail : null,
    firstLine,
  };
}

function firstLineOf(head: Uint8Array | undefined): string | undefined {
  if (!head || head.length === 0) return undefined;
  const text = Buffer.from(head.subarray(0, FIRST_LINE_CHARS * 4)).toString("utf8");
  const line = text.split(/\r?\n/).find((l) => l.trim() !== "");
  return line === undefined ? undefined : line.slice(0, FIRST_LINE_CHARS);
}
