import type { ChildProcessWithoutNullStreams } from "node:child_process";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import type { ProcessSpec } from "../../common/process-params.js";
import type { ExitStatusSchema } from "../../gen/rmm/v1/exec_pb.js";
import { preflight } from "./preflight.js";
import { killTree, spawnTree } from "./process-tree.js";

/** How a program is ending, if something other than the program itself ended it. */
export type Ending = "running" | "timed_out" | "cancelled";

export type ExitStatusInit = MessageInitShape<typeof ExitStatusSchema>;

/** What a run tells its owner: the race where spawning failed after preflight, and the program's exit. */
export interface ProgramRunEvents {
  spawnFailed(code: Code, message: string): void;
  closed(code: number | null, signal: NodeJS.Signals | null): void;
}

/**
 * One program started for an exec channel or a job step: preflight, its own
 * process group, the tree ended on timeout or cancel, and the exit status as
 * the contract reports it. The owner decides what happens to the output (an
 * exec channel streams it, a job step keeps its head and tail).
 */
export class ProgramRun {
  readonly child: ChildProcessWithoutNullStreams;
  private readonly startedAt = Date.now();
  private readonly timer: NodeJS.Timeout | undefined;
  private ending: Ending = "running";
  private finished = false;

  /** Throws ConnectError (NOT_FOUND, INVALID_ARGUMENT) when the program cannot start. */
  constructor(spec: ProcessSpec, env: NodeJS.ProcessEnv, events: ProgramRunEvents) {
    preflight(spec.program, spec.cwd, env);
    this.child = spawnTree(spec.program, spec.args, { cwd: spec.cwd, env });
    // A program that exits without reading its input makes our writes fail with EPIPE: its choice, not an error.
    this.child.stdin.on("error", () => undefined);
    // Preflight catches almost every spawn failure; this is the race where the program went away in between.
    this.child.on("error", (err: NodeJS.ErrnoException) => {
      const code =
        err.code === "ENOENT" ? Code.NotFound : err.code === "EACCES" ? Code.PermissionDenied : Code.Internal;
      events.spawnFailed(code, `could not run ${spec.program}: ${err.message}`);
    });
    this.child.on("close", (code, signal) => events.closed(code, signal));
    if (spec.timeoutMs > 0) this.timer = setTimeout(() => this.end("timed_out"), spec.timeoutMs);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get timedOut(): boolean {
    return this.ending === "timed_out";
  }

  /** Ends the tree once, remembering why; a finished run or one already ending is left alone. */
  end(how: Exclude<Ending, "running">): void {
    if (this.finished || this.ending !== "running") return;
    this.ending = how;
    if (this.child.pid !== undefined) killTree(this.child.pid);
  }

  /** Marks the run reported; false when it already was, so each run reports once. */
  settle(): boolean {
    if (this.finished) return false;
    this.finished = true;
    clearTimeout(this.timer);
    return true;
  }

  /** Ends whatever is left of the tree regardless of how it was ending (a failed run). */
  killTree(): void {
    if (this.child.pid !== undefined) killTree(this.child.pid);
  }

  /** Milliseconds since the program started. */
  elapsedMs(): number {
    return Date.now() - this.startedAt;
  }

  exitStatus(
    code: number | null,
    signal: NodeJS.Signals | null,
    bytes: { stdout: number; stderr: number },
    ms = this.elapsedMs(),
  ): ExitStatusInit {
    return {
      ...(code !== null && { exitCode: code }),
      signal: signal ?? "",
      timedOut: this.ending === "timed_out",
      cancelled: this.ending === "cancelled",
      duration: { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 },
      stdoutBytes: BigInt(bytes.stdout),
      stderrBytes: BigInt(bytes.stderr),
    };
  }
}
