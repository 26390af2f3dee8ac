import { Code, ConnectError } from "@connectrpc/connect";
import { processSpecOf } from "../../common/process-params.js";
import { OutputStream } from "../../gen/rmm/v1/exec_pb.js";
import type { ChannelOpen } from "../../gen/rmm/v1/frame_pb.js";
import { OutputPump } from "../process/output-pump.js";
import { ProgramRun } from "../process/program-run.js";
import type { ChannelFactory } from "./channel-factory.js";
import type { ChannelHandler, ChannelIo } from "../channel-io.js";

/**
 * One program with its stdout and stderr streamed back as separate, ordered
 * data frames under the channel's credit (a slow reader pauses the pipes,
 * which blocks the program), stdin fed from the technician's data frames and
 * closed by eof. The channel ends with close carrying the exit status. The
 * program leads its own process group: a timeout or a cancel ends the tree.
 */
class ExecChannel implements ChannelHandler {
  private readonly run: ProgramRun;
  private readonly pump: OutputPump;
  private stdinClosed = false;
  private stdoutBytes = 0;
  private stderrBytes = 0;

  constructor(
    private readonly io: ChannelIo,
    open: ChannelOpen,
  ) {
    if (open.params.case !== "exec")
      throw new ConnectError("an exec channel needs exec parameters", Code.InvalidArgument);
    const spec = processSpecOf(open.params.value);
    this.run = new ProgramRun(
      spec,
      { ...process.env, ...spec.env },
      {
        spawnFailed: (code, message) => this.fail(code, message),
        closed: (code, signal) => this.pump.whenDrained(() => this.exited(code, signal)),
      },
    );
    const child = this.run.child;
    this.pump = new OutputPump(io, {
      pause: () => {
        child.stdout.pause();
        child.stderr.pause();
      },
      resume: () => {
        child.stdout.resume();
        child.stderr.resume();
      },
    });
    child.stdout.on("data", (chunk: Buffer) => {
      this.stdoutBytes += chunk.length;
      this.pump.push(chunk, OutputStream.STDOUT);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      this.stderrBytes += chunk.length;
      this.pump.push(chunk, OutputStream.STDERR);
    });
    const pid = child.pid;
    // The mux sends the channel's first credit after the factory returns; started must follow it.
    if (pid !== undefined) queueMicrotask(() => io.sendInfo({ kind: { case: "execStarted", value: { pid } } }));
  }

  onData(data: Uint8Array): void {
    if (this.stdinClosed) {
      this.fail(Code.FailedPrecondition, "input after eof: the program's stdin is already closed");
      return;
    }
    // Credit for input goes back only once the pipe took it, so a program that does not read stops the sender.
    this.run.child.stdin.write(data, () => this.io.consumed(data.length));
  }

  onCredit(): void {
    this.pump.pump();
  }

  onEof(): void {
    this.stdinClosed = true;
    this.run.child.stdin.end();
  }

  onClose(): void {
    this.pump.clear();
    this.run.end("cancelled");
  }

  private exited(code: number | null, signal: NodeJS.Signals | null): void {
    if (!this.run.settle()) return;
    this.io.sendEof();
    const ms = this.run.elapsedMs();
    const timedOut = this.run.timedOut;
    this.io.close(
      timedOut ? Code.DeadlineExceeded : 0,
      timedOut ? `timed out after ${ms} ms; the process tree was ended` : "",
      this.run.exitStatus(code, signal, { stdout: this.stdoutBytes, stderr: this.stderrBytes }, ms),
    );
  }

  private fail(code: Code, message: string): void {
    this.pump.clear();
    this.run.end("cancelled");
    this.io.close(code, message);
  }
}

export const execChannel: ChannelFactory = (io, open) => new ExecChannel(io, open);
