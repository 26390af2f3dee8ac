import { randomBytes } from "node:crypto";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { OutputStream, type ExitStatus } from "../gen/rmm/v1/exec_pb.js";
import type { ExecParamsSchema } from "../gen/rmm/v1/exec_pb.js";
import type { TunnelService } from "../gen/rmm/v1/tunnel_service_pb.js";
import { OutputBuffer } from "./output-buffer.js";
import { toolErrorMessage } from "./tool-error.js";

/** How a command ended, as tools report it. */
export interface CommandExit {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  cancelled: boolean;
  durationMs: number;
}

/**
 * A command's lifecycle. `running` until the Exec stream ends: with its exit
 * status (`exited`), because we cancelled it (`cancelled`), or with an error
 * (`failed`: refused by policy, agent gone, server unreachable).
 */
export type CommandState =
  | { type: "running" }
  | { type: "exited"; exit: CommandExit }
  | { type: "cancelled"; reason: string }
  | { type: "failed"; error: string };

const LEGAL: Record<CommandState["type"], readonly CommandState["type"][]> = {
  running: ["exited", "cancelled", "failed"],
  exited: [],
  cancelled: [],
  failed: [],
};

export type ExecParamsInit = MessageInitShape<typeof ExecParamsSchema>;

/**
 * One command started through MCP, read from its Exec stream into bounded
 * per-stream buffers whether or not anyone is asking, so a tool call can
 * return early with a handle and a later one pick up the rest. Cancelling
 * aborts the Exec call, which ends the remote process tree.
 */
export class CommandRun {
  readonly handle = `cmd-${randomBytes(6).toString("hex")}`;
  readonly stdout = new OutputBuffer();
  readonly stderr = new OutputBuffer();
  pid: number | undefined;
  private current: CommandState = { type: "running" };
  private readonly abort = new AbortController();
  private readonly listeners = new Set<() => void>();
  /** Settles once the command has left `running`. */
  readonly done: Promise<void>;

  private constructor(
    readonly agentId: string,
    readonly command: string,
    client: Client<typeof TunnelService>,
    sessionId: string,
    params: ExecParamsInit,
    stdin: Uint8Array,
  ) {
    this.done = this.consume(client, sessionId, params, stdin);
  }

  static start(
    client: Client<typeof TunnelService>,
    opts: { agentId: string; sessionId: string; command: string; params: ExecParamsInit; stdin?: Uint8Array },
  ): CommandRun {
    return new CommandRun(
      opts.agentId,
      opts.command,
      client,
      opts.sessionId,
      opts.params,
      opts.stdin ?? new Uint8Array(),
    );
  }

  get state(): CommandState {
    return this.current;
  }

  /** Called on every output chunk and state change (progress notifications). Returns the unsubscribe. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  cancel(reason: string): void {
    if (this.current.type !== "running") return;
    this.transition({ type: "cancelled", reason });
    this.abort.abort(new ConnectError(reason, Code.Canceled));
  }

  /** Resolves when the command ends, `ms` pass or `signal` aborts, whichever comes first. */
  async waitFor(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.current.type !== "running" || ms <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    await Promise.race([
      this.done,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
        onAbort = resolve;
        signal?.addEventListener("abort", onAbort, { once: true });
      }),
    ]);
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener("abort", onAbort);
  }

  private transition(to: CommandState): void {
    if (!LEGAL[this.current.type].includes(to.type))
      throw new Error(`command ${this.handle}: illegal transition ${this.current.type} -> ${to.type}`);
    this.current = to;
    this.notify();
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }

  private async consume(
    client: Client<typeof TunnelService>,
    sessionId: string,
    params: ExecParamsInit,
    stdin: Uint8Array,
  ) {
    try {
      for await (const res of client.exec({ sessionId, params, stdin }, { signal: this.abort.signal })) {
        switch (res.kind.case) {
          case "started":
            this.pid = res.kind.value.pid;
            break;
          case "output":
            (res.kind.value.stream === OutputStream.STDERR ? this.stderr : this.stdout).append(res.kind.value.data);
            this.notify();
            break;
          case "exit":
            if (this.current.type === "running") this.transition({ type: "exited", exit: exitOf(res.kind.value) });
            break;
        }
      }
      if (this.current.type === "running")
        this.transition({ type: "failed", error: "the Exec stream ended without an exit status" });
    } catch (err) {
      if (this.current.type === "running") this.transition({ type: "failed", error: toolErrorMessage(err) });
    }
  }
}

function exitOf(exit: ExitStatus): CommandExit {
  const d = exit.duration;
  return {
    exitCode: exit.exitCode ?? null,
    signal: exit.signal || null,
    timedOut: exit.timedOut,
    cancelled: exit.cancelled,
    durationMs: d ? Number(d.seconds) * 1000 + Math.round(d.nanos / 1e6) : 0,
  };
}
