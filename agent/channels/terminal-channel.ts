import { userInfo } from "node:os";
import { Code, ConnectError } from "@connectrpc/connect";
import { spawn, type IPty } from "@lydell/node-pty";
import { checkEnvironment } from "../../common/process-params.js";
import { checkWindowSize, DEFAULT_WINDOW_SIZE } from "../../common/window-size.js";
import type { WindowSize } from "../../gen/rmm/v1/exec_pb.js";
import type { ChannelOpen } from "../../gen/rmm/v1/frame_pb.js";
import { OutputPump } from "../process/output-pump.js";
import { preflight } from "../process/preflight.js";
import { underParentDeath } from "../process/parent-death.js";
import { groupEnded, groupStarted, killTree, signalName } from "../process/process-tree.js";
import type { ChannelFactory } from "./channel-factory.js";
import type { ChannelHandler, ChannelIo } from "../channel-io.js";

/** TERM when the technician names none. */
export const DEFAULT_TERM = "xterm-256color";

/** The shell a terminal runs when none is named: the agent user's login shell. */
export function loginShell(): string {
  if (process.platform === "win32") return process.env.COMSPEC ?? "cmd.exe";
  return userInfo().shell || process.env.SHELL || "/bin/sh";
}

/**
 * An interactive shell on a pseudo-terminal. Bytes flow raw both ways: output
 * under the channel's credit (a slow technician pauses the PTY, which blocks
 * the shell), input written as it comes; resize frames resize the PTY. The
 * channel ends with the shell's exit status.
 */
class TerminalChannel implements ChannelHandler {
  private readonly pty: IPty;
  private readonly pump: OutputPump;
  private readonly startedAt = Date.now();
  private cancelled = false;
  private shellExited = false;
  private finished = false;
  private outputBytes = 0;

  constructor(
    private readonly io: ChannelIo,
    open: ChannelOpen,
  ) {
    if (open.params.case !== "terminal")
      throw new ConnectError("a terminal channel needs terminal parameters", Code.InvalidArgument);
    const params = open.params.value;
    const size = params.size ? checkWindowSize(params.size) : DEFAULT_WINDOW_SIZE;
    const env = { ...process.env, ...checkEnvironment(params.environment), TERM: params.term || DEFAULT_TERM };
    const shell = params.shell || loginShell();
    preflight(shell, "", env);
    const launch = underParentDeath(shell, []);
    this.pty = spawn(launch.program, launch.args, {
      name: env.TERM,
      cols: size.columns,
      rows: size.rows,
      cwd: process.env.HOME ?? process.cwd(),
      env,
      // Raw bytes, not strings: a multi-byte character split across reads must reach the technician intact.
      encoding: null,
    });
    this.pump = new OutputPump(io, { pause: () => this.pty.pause(), resume: () => this.pty.resume() });
    // With encoding null node-pty hands over Buffers; its typings only know the string case.
    this.pty.onData((data: string | Buffer) => {
      const bytes = typeof data === "string" ? Buffer.from(data) : data;
      this.outputBytes += bytes.length;
      this.pump.push(bytes);
    });
    groupStarted(this.pty.pid);
    this.pty.onExit(({ exitCode, signal }) => {
      groupEnded(this.pty.pid);
      // Writing to a PTY whose shell has gone errors inside node-pty: input from here on is dropped.
      this.shellExited = true;
      this.pump.whenDrained(() => this.exited(exitCode, signal));
    });
    const pid = this.pty.pid;
    queueMicrotask(() => io.sendInfo({ kind: { case: "execStarted", value: { pid } } }));
  }

  onData(data: Uint8Array): void {
    if (this.shellExited) {
      this.io.consumed(data.length);
      return;
    }
    // node-pty writes Buffers through unchanged; its typings only name strings.
    this.pty.write(Buffer.from(data.buffer, data.byteOffset, data.byteLength) as unknown as string);
    this.io.consumed(data.length);
  }

  onCredit(): void {
    this.pump.pump();
  }

  onResize(size: WindowSize): void {
    let checked: { columns: number; rows: number };
    try {
      checked = checkWindowSize(size);
    } catch (err) {
      const e = ConnectError.from(err);
      this.close(e.code, e.rawMessage);
      return;
    }
    if (!this.shellExited) this.pty.resize(checked.columns, checked.rows);
  }

  onClose(): void {
    this.pump.clear();
    this.cancelled = true;
    this.kill();
  }

  private close(code: Code, message: string): void {
    this.onClose();
    this.io.close(code, message);
  }

  private kill(): void {
    if (this.shellExited) return;
    if (killTree(this.pty.pid)) return;
    // No group to signal (gone, or the shell left it): end the shell itself; its exit event finishes the channel.
    try {
      this.pty.kill();
    } catch {
      // Already gone.
    }
  }

  private exited(exitCode: number, signal: number | undefined): void {
    if (this.finished) return;
    this.finished = true;
    const ms = Date.now() - this.startedAt;
    this.io.sendEof();
    this.io.close(0, "", {
      ...(signal ? { signal: signalName(signal) } : { exitCode }),
      cancelled: this.cancelled,
      duration: { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 },
      stdoutBytes: BigInt(this.outputBytes),
    });
  }
}

export const terminalChannel: ChannelFactory = (io, open) => new TerminalChannel(io, open);
