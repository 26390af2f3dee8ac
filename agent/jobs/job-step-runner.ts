import { Code } from "@connectrpc/connect";
import type { Logger } from "../../common/logger.js";
import type { JobStepCancel, JobStepStart } from "../../gen/rmm/v1/job_step_pb.js";
import { JobStepProcess, refusal, type StepEnded } from "./job-step-process.js";

export interface JobStepReplies {
  started(stepId: string, pid: number): void;
  ended(ended: StepEnded): void;
}

/**
 * The agent's job steps: independent of its tunnel mode and sessions, each
 * step its own process group. A step outlives nothing: when the stream drops,
 * every running step is ended (its result could not be reported, and the
 * server has already marked it as lost).
 */
export class JobStepRunner {
  private readonly running = new Map<string, JobStepProcess>();

  constructor(
    private readonly opts: {
      agentId: string;
      /** False when exec is disabled on this agent (--disable-channel exec): every step is refused. */
      enabled: boolean;
      replies: JobStepReplies;
      log: Logger;
    },
  ) {}

  get size(): number {
    return this.running.size;
  }

  start(msg: JobStepStart): void {
    const { replies, log } = this.opts;
    const { stepId } = msg;
    if (this.running.has(stepId)) {
      replies.ended({ stepId, code: Code.AlreadyExists, message: `step ${stepId} is already running on this agent` });
      return;
    }
    if (!this.opts.enabled) {
      replies.ended({
        stepId,
        code: Code.PermissionDenied,
        message: "exec is disabled on this agent (rmm-agent run --disable-channel exec)",
      });
      return;
    }
    let step: JobStepProcess;
    try {
      step = new JobStepProcess(stepId, msg, { RMM_JOB_ID: msg.jobId, RMM_AGENT_ID: this.opts.agentId }, (ended) => {
        this.running.delete(stepId);
        log.info({ stepId, code: ended.code, exit: ended.exit?.exitCode }, "job step ended");
        replies.ended(ended);
      });
    } catch (err) {
      replies.ended(refusal(stepId, err));
      return;
    }
    this.running.set(stepId, step);
    log.info({ stepId, jobId: msg.jobId, technician: msg.technician, pid: step.pid }, "job step started");
    if (step.pid !== undefined) replies.started(stepId, step.pid);
  }

  cancel(msg: JobStepCancel): void {
    this.running.get(msg.stepId)?.cancel();
  }

  /** The stream is gone: end every step's process tree. */
  stopAll(): void {
    for (const step of this.running.values()) step.cancel();
  }
}
