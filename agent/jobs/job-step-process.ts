import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { Code, ConnectError } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { processSpecOf } from "../../common/process-params.js";
import type { JobStepEndedSchema, JobStepStart } from "../../gen/rmm/v1/job_step_pb.js";
import { preflight } from "../process/preflight.js";
import { killTree, spawnTree } from "../process/process-tree.js";
import { HeadTailBuffer } from "./head-tail-buffer.js";

export type StepEnded = MessageInitShape<typeof JobStepEndedSchema>;

/** How a step's process is ending, if something other than the process itself ended it. */
type Ending = "running" | "timed_out" | "cancelled";

/**
 * One job step's program on the agent: the exec channel's process machinery
 * (preflight, its own process group, the tree ended on timeout or cancel)
 * without a channel: output is kept, not streamed, as its first and last
 * 64 KiB per stream, and reported once in JobStepEnded.
 */
export class JobStepProcess {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly stdout = new HeadTailBuffer();
  private readonly stderr = new HeadTailBuffer();
  private readonly startedAt = Date.now();
  private readonly timer: NodeJS.Timeout | undefined;
  private ending: Ending = "running";
  private finished = false;

  /** Throws ConnectError (NOT_FOUND, INVALID_ARGUMENT) when the program cannot start. */
  constructor(
    readonly stepId: string,
    start: JobStepStart,
    env: Record<string, string>,
    private readonly onEnded: (ended: StepEnded) => void,
  ) {
    const spec = processSpecOf(start.params);
    const fullEnv = { ...process.env, ...spec.env, ...env };
    preflight(spec.program, spec.cwd, fullEnv);
    this.child = spawnTree(spec.program, spec.args, { cwd: spec.cwd, env: fullEnv });
    this.child.stdout.on("data", (chunk: Buffer) => this.stdout.push(chunk));
    this.child.stderr.on("data", (chunk: Buffer) => this.stderr.push(chunk));
    // A program that exits without reading its input makes our write fail with EPIPE: its choice, not an error.
    this.child.stdin.on("error", () => undefined);
    this.child.stdin.end(start.stdin);
    this.child.on("error", (err: NodeJS.ErrnoException) => {
      const code =
        err.code === "ENOENT" ? Code.NotFound : err.code === "EACCES" ? Code.PermissionDenied : Code.Internal;
      this.fail(code, `could not run ${spec.program}: ${err.message}`);
    });
    this.child.on("close", (code, signal) => this.exited(code, signal));
    if (spec.timeoutMs > 0) this.timer = setTimeout(() => this.end("timed_out"), spec.timeoutMs);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  cancel(): void {
    this.end("cancelled");
  }

  private end(how: Exclude<Ending, "running">): void {
    if (this.finished || this.ending !== "running") return;
    this.ending = how;
    if (this.child.pid !== undefined) killTree(this.child.pid);
  }

  private exited(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.timer);
    const ms = Date.now() - this.startedAt;
    const out = this.stdout.result();
    const err = this.stderr.result();
    this.onEnded({
      stepId: this.stepId,
      exit: {
        ...(code !== null && { exitCode: code }),
        signal: signal ?? "",
        timedOut: this.ending === "timed_out",
        cancelled: this.ending === "cancelled",
        duration: { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 },
        stdoutBytes: BigInt(out.totalBytes),
        stderrBytes: BigInt(err.totalBytes),
      },
      stdout: { ...out, totalBytes: BigInt(out.totalBytes) },
      stderr: { ...err, totalBytes: BigInt(err.totalBytes) },
    });
  }

  private fail(code: Code, message: string): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.timer);
    if (this.child.pid !== undefined) killTree(this.child.pid);
    this.onEnded({ stepId: this.stepId, code, message });
  }
}

/** A refusal before anything started, as the contract reports it. */
export function refusal(stepId: string, err: unknown): StepEnded {
  const e = ConnectError.from(err);
  return { stepId, code: e.code === Code.Unknown ? Code.Internal : e.code, message: e.rawMessage };
}
