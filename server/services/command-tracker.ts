import { Code, ConnectError } from "@connectrpc/connect";
import { AsyncQueue } from "../../common/async-queue.js";
import type { Logger } from "../../common/logger.js";
import { checkWindowSize } from "../../common/window-size.js";
import { OutputStream, type ExitStatus } from "../../gen/rmm/v1/exec_pb.js";
import type { OpenChannelRequest, OpenChannelResponse } from "../../gen/rmm/v1/tunnel_service_pb.js";
import type { AsciicastRecorder } from "../recording/asciicast-recorder.js";
import type { CommandAuditStore, CommandEnd } from "../store/index.js";
import type { RelayedChannel } from "./relayed-channel.js";

export interface TrackerOptions {
  auditId: number;
  /** Terminals only: close after this long without input or output. 0: never. */
  idleTimeoutMs: number;
  recorder: AsciicastRecorder | undefined;
}

/**
 * Watches one exec or terminal channel from the server's side: counts its
 * stdout and stderr bytes, records terminal output and resizes, closes an
 * idle terminal saying why, and completes the command's audit row with how it
 * ended. Every frame for the technician passes through `responses`, so the
 * tracker sees the final close even when the technician has gone.
 */
export class CommandTracker {
  /** What the technician's call yields; holds no more than the relayed channel did (the agent's credit bounds both). */
  readonly responses = new AsyncQueue<OpenChannelResponse>();
  private stdoutBytes = 0;
  private stderrBytes = 0;
  private lastActivityAt = Date.now();
  private idleClosed = false;
  private readonly idleTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly channel: RelayedChannel,
    private readonly audit: CommandAuditStore,
    private readonly log: Logger,
    private readonly opts: TrackerOptions,
  ) {
    if (opts.idleTimeoutMs > 0) {
      this.idleTimer = setInterval(
        () => this.checkIdle(),
        Math.max(50, Math.min(1_000, Math.floor(opts.idleTimeoutMs / 4))),
      );
      this.idleTimer.unref();
    }
    void this.drain();
  }

  /** A frame from the technician: resizes are recorded, input counts as activity. */
  fromTechnician(req: OpenChannelRequest): void {
    if (req.kind.case === "data") this.lastActivityAt = Date.now();
    if (req.kind.case === "resize") {
      try {
        checkWindowSize(req.kind.value);
      } catch (err) {
        // Checked here as well as on the agent so that a bad size never reaches the recording.
        this.channel.end(Code.InvalidArgument, ConnectError.from(err).rawMessage, true);
        return;
      }
      this.opts.recorder?.resize(req.kind.value.columns, req.kind.value.rows);
    }
    this.channel.fromTechnician(req);
  }

  private async drain(): Promise<void> {
    let exit: ExitStatus | undefined;
    let end = { code: Code.Unknown as number, message: "channel ended without a close" };
    for await (const res of this.channel.toTechnician) {
      const kind = res.kind;
      if (kind.case === "data") {
        this.lastActivityAt = Date.now();
        if (kind.value.stream === OutputStream.STDERR) this.stderrBytes += kind.value.data.length;
        else this.stdoutBytes += kind.value.data.length;
        this.opts.recorder?.output(kind.value.data);
      } else if (kind.case === "close") {
        exit = kind.value.exit;
        end = { code: kind.value.code, message: kind.value.message };
      }
      this.responses.push(res);
    }
    this.responses.end();
    clearInterval(this.idleTimer);
    // Never rejects: a write failure is logged by the recorder and clears the row's recording path below.
    await this.opts.recorder?.close();
    // After the exit and, in 9 of 10 round trips measured, the call's trailers are on the wire (HTTP/2
    // writes go out in native immediates, which run before this one): the technician need not wait for
    // the row's UPDATE, which on SQLite runs on this thread. The row was written before the command ran
    // and says "running" until this lands; a server that dies first leaves it to be marked failed at the
    // next start, as it would have a moment later.
    await new Promise<void>((resolve) => setImmediate(resolve));
    await this.finishAudit(exit, end);
  }

  private checkIdle(): void {
    const idleMs = Date.now() - this.lastActivityAt;
    if (this.channel.isEnded || idleMs < this.opts.idleTimeoutMs) return;
    this.idleClosed = true;
    const minutes =
      this.opts.idleTimeoutMs >= 60_000
        ? `${Math.round(this.opts.idleTimeoutMs / 60_000)} min`
        : `${this.opts.idleTimeoutMs} ms`;
    this.channel.end(
      Code.DeadlineExceeded,
      `terminal closed: no input or output for ${minutes} (server --terminal-idle-timeout)`,
      true,
    );
  }

  private async finishAudit(exit: ExitStatus | undefined, end: { code: number; message: string }): Promise<void> {
    // Like ExitStatus.cancelled: the technician cancelled, or the session ended under the command. An agent
    // that vanished (killed, crashed, cut off) is a failure instead: nobody cancelled, and the process may
    // not have ended the way a cancel ends it.
    const agentGone = !exit && this.channel.endedWith?.agentGone === true;
    const endedUnder = !exit && !agentGone && (end.code === Code.Canceled || end.code === Code.Unavailable);
    const outcome: CommandEnd["outcome"] =
      exit?.timedOut || this.idleClosed
        ? "timed_out"
        : exit?.cancelled || endedUnder
          ? "cancelled"
          : exit
            ? "completed"
            : "failed";
    const done: CommandEnd = {
      outcome,
      endedAt: Date.now(),
      exitCode: exit?.exitCode ?? null,
      signal: exit?.signal || null,
      stdoutBytes: exit ? Math.max(Number(exit.stdoutBytes), this.stdoutBytes) : this.stdoutBytes,
      stderrBytes: exit ? Math.max(Number(exit.stderrBytes), this.stderrBytes) : this.stderrBytes,
      message: agentGone
        ? `the agent vanished while the command ran (its stream ended: ${end.message || "no reason given"})`
        : end.message || null,
      channelId: this.channel.channelId,
      ...(this.opts.recorder?.failed && { recordingPath: null }),
    };
    try {
      await this.audit.finish(this.opts.auditId, done);
    } catch (err) {
      // The row stays "running" and is marked failed at the next start; the outcome is kept in the log.
      this.log.error({ err, auditId: this.opts.auditId, audit: done }, "could not complete the command audit row");
    }
  }
}
