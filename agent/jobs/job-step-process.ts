import { Code, ConnectError } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { processSpecOf } from "../../common/process-params.js";
import type { JobStepEndedSchema, JobStepStart } from "../../gen/rmm/v1/job_step_pb.js";
import { ProgramRun } from "../process/program-run.js";
import { HeadTailBuffer } from "./head-tail-buffer.js";

export type StepEnded = MessageInitShape<typeof JobStepEndedSchema>;

/**
 * One job step's program on the agent: the exec channel's process machinery
 * (ProgramRun: preflight, its own process group, the tree ended on timeout or
 * cancel) without a channel: output is kept, not streamed, as its first and
 * last 64 KiB per stream, and reported once in JobStepEnded.
 */
export class JobStepProcess {
  private readonly run: ProgramRun;
  private readonly stdout = new HeadTailBuffer();
  private readonly stderr = new HeadTailBuffer();

  /** Throws ConnectError (NOT_FOUND, INVALID_ARGUMENT) when the program cannot start. */
  constructor(
    readonly stepId: string,
    start: JobStepStart,
    env: Record<string, string>,
    private readonly onEnded: (ended: StepEnded) => void,
  ) {
    const spec = processSpecOf(start.params);
    this.run = new ProgramRun(
      spec,
      { ...process.env, ...spec.env, ...env },
      {
        spawnFailed: (code, message) => this.fail(code, message),
        closed: (code, signal) => this.exited(code, signal),
      },
    );
    const child = this.run.child;
    child.stdout.on("data", (chunk: Buffer) => this.stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => this.stderr.push(chunk));
    child.stdin.end(start.stdin);
  }

  get pid(): number | undefined {
    return this.run.pid;
  }

  cancel(): void {
    this.run.end("cancelled");
  }

  private exited(code: number | null, signal: NodeJS.Signals | null): void {
    if (!this.run.settle()) return;
    const out = this.stdout.result();
    const err = this.stderr.result();
    this.onEnded({
      stepId: this.stepId,
      exit: this.run.exitStatus(code, signal, { stdout: out.totalBytes, stderr: err.totalBytes }),
      stdout: { ...out, totalBytes: BigInt(out.totalBytes) },
      stderr: { ...err, totalBytes: BigInt(err.totalBytes) },
    });
  }

  private fail(code: Code, message: string): void {
    if (!this.run.settle()) return;
    this.run.killTree();
    this.onEnded({ stepId: this.stepId, code, message });
  }
}

/** A refusal before anything started, as the contract reports it. */
export function refusal(stepId: string, err: unknown): StepEnded {
  const e = ConnectError.from(err);
  return { stepId, code: e.code === Code.Unknown ? Code.Internal : e.code, message: e.rawMessage };
}
