import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { Code, ConnectError } from "@connectrpc/connect";
import { processSpecOf } from "../../common/process-params.js";
import { OutputStream } from "../../gen/rmm/v1/exec_pb.js";
import type { ChannelOpen } from "../../gen/rmm/v1/frame_pb.js";
import { OutputPump } from "../process/output-pump.js";
import { preflight } from "../process/preflight.js";
import { killTree, spawnTree } from "../process/process-tree.js";
import type { ChannelFactory } from "./channel-factory.js";
import type { ChannelHandler, ChannelIo } from "../channel-io.js";

/** How an exec channel's process is ending, if something other than the process itself ended it. */
type Ending = "running" | "timed_out" | "cancelled";

/**
 * One program with its stdout and stderr streamed back as separate, ordered
 * data frames under the channel's credit (a slow reader pauses the pipes,
 * which blocks the program), stdin fed from the technician's data frames and
 * closed by eof. The channel ends with close carrying the exit status. The
 * program leads its own process group: a timeout or a cancel ends the tree.
 */
class ExecChannel implements ChannelHandler {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pump: OutputPump;
  private readonly startedAt = Date.now();
  private readonly timer: NodeJS.Timeout | undefined;
  private ending: Ending = "running";
  private stdinClosed = false;
  private finished = false;
  private stdoutBytes = 0;
  private stderrBytes = 0;

  constructor(
    private readonly io: ChannelIo,
    open: ChannelOpen,
  ) {
    if (open.params.case !== "exec")
      throw new ConnectError("an exec channel needs exec parameters", Code.InvalidArgument);
    const spec = processSpecOf(open.params.value);
    const env = { ...process.env, ...spec.env };
    preflight(spec.program, spec.cwd, env);
    this.child = spawnTree(spec.program, spec.args, { cwd: spec.cwd, env });
    this.pump = new OutputPump(io, {
      pause: () => {
        this.child.stdout.pause();
        this.child.stderr.pause();
      },
      resume: () => {
        this.child.stdout.resume();
        this.child.stderr.resume();
      },
    });
    this.child.stdout.on("data", (chunk: Buffer) => {
      this.stdoutBytes += chunk.length;
      this.pump.push(chunk, OutputStream.STDOUT);
    });
    this.child.stderr.on("data", (chunk: Buffer) => {
      this.stderrBytes += chunk.length;
      this.pump.push(chunk, OutputStream.STDERR);
    });
    // A program that exits without reading its input makes our writes fail with EPIPE: that is its choice, not an error.
    this.child.stdin.on("error", () => undefined);
    // Preflight catches almost every spawn failure; this is the race where the program went away in between.
    this.child.on("error", (err: NodeJS.ErrnoException) => {
      const code =
        err.code === "ENOENT" ? Code.NotFound : err.code === "EACCES" ? Code.PermissionDenied : Code.Internal;
      this.fail(code, `could not run ${spec.program}: ${err.message}`);
    });
    this.child.on("close", (code, signal) => this.pump.whenDrained(() => this.exited(code, signal)));
    if (spec.timeoutMs > 0) {
      this.timer = setTimeout(() => this.end("timed_out"), spec.timeoutMs);
    }
    const pid = this.child.pid;
    // The mux sends the channel's first credit after the factory returns; started must follow it.
    if (pid !== undefined) queueMicrotask(() => io.sendInfo({ kind: { case: "execStarted", value: { pid } } }));
  }

  onData(data: Uint8Array): void {
    if (this.stdinClosed) {
      this.fail(Code.FailedPrecondition, "input after eof: the program's stdin is already closed");
      return;
    }
    // Credit for input goes back only once the pipe took it, so a program that does not read stops the sender.
    this.child.stdin.write(data, () => this.io.consumed(data.length));
  }

  onCredit(): void {
    this.pump.pump();
  }

  onEof(): void {
    this.stdinClosed = true;
    this.child.stdin.end();
  }

  onClose(): void {
    this.pump.clear();
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
    this.io.sendEof();
    const ms = Date.now() - this.startedAt;
    this.io.close(
      this.ending === "timed_out" ? Code.DeadlineExceeded : 0,
      this.ending === "timed_out" ? `timed out after ${ms} ms; the process tree was ended` : "",
      {
        ...(code !== null && { exitCode: code }),
        signal: signal ?? "",
        timedOut: this.ending === "timed_out",
        cancelled: this.ending === "cancelled",
        duration: { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 },
        stdoutBytes: BigInt(this.stdoutBytes),
        stderrBytes: BigInt(this.stderrBytes),
      },
    );
  }

  private fail(code: Code, message: string): void {
    this.pump.clear();
    this.end("cancelled");
    this.io.close(code, message);
  }
}

export const execChannel: ChannelFactory = (io, open) => new ExecChannel(io, open);
