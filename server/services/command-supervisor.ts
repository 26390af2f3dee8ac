import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "../../common/logger.js";
import { checkEnvironment, processSpecOf } from "../../common/process-params.js";
import { checkWindowSize, DEFAULT_WINDOW_SIZE } from "../../common/window-size.js";
import { ChannelType } from "../../gen/rmm/v1/frame_pb.js";
import type { OpenChannelRequest, OpenChannelResponse } from "../../gen/rmm/v1/tunnel_service_pb.js";
import type { Technician } from "../auth/claims.js";
import type { CommandPolicy, PolicyDecision } from "../policy/command-policy.js";
import { AsciicastRecorder } from "../recording/asciicast-recorder.js";
import type { CommandAuditStore, CommandKind } from "../store/index.js";
import type { ChannelRelay } from "./channel-relay.js";
import { CommandTracker } from "./command-tracker.js";
import type { ChannelRequest, RelayedChannel } from "./relayed-channel.js";
import type { SessionService } from "./session-service.js";

/** Terminals with no input or output this long are closed. Defaults to 20 min. */
export const TERMINAL_IDLE_TIMEOUT_MS = 20 * 60_000;

export interface SupervisorOptions {
  policy: CommandPolicy;
  /** Where terminal recordings go; undefined turns recording off. */
  recordingsDir: string | undefined;
  terminalIdleTimeoutMs: number;
}

/** A channel as the technician's call sees it: what to yield, and where to send what arrives. */
export interface SupervisedChannel {
  channel: RelayedChannel;
  responses: AsyncIterable<OpenChannelResponse>;
  fromTechnician(req: OpenChannelRequest): void;
}

interface Vetted {
  kind: CommandKind;
  argv: string[];
  cwd: string;
  decision: PolicyDecision;
  terminal?: { size: { columns: number; rows: number }; term: string; shell: string };
}

/**
 * The gate every exec and terminal channel passes, whether a technician opens
 * it with OpenChannel or the server does for Exec: parameters are checked,
 * the policy decides (a refusal is audited and never reaches the agent),
 * the command gets an audit row, and a tracker completes that row and
 * records terminals. Other channel types pass straight to the relay.
 */
export class CommandSupervisor {
  constructor(
    private readonly deps: { relay: ChannelRelay; sessions: SessionService; audit: CommandAuditStore; log: Logger },
    private readonly opts: SupervisorOptions,
  ) {}

  async open(tech: Technician, request: ChannelRequest): Promise<SupervisedChannel> {
    const { relay, sessions, audit, log } = this.deps;
    if (request.type !== ChannelType.EXEC && request.type !== ChannelType.TERMINAL) {
      const channel = await relay.open(tech, request);
      return { channel, responses: channel.toTechnician, fromTechnician: (req) => channel.fromTechnician(req) };
    }
    const vetted = this.vet(tech, request);
    // Ownership first (NotFound / PermissionDenied): a refusal is audited against the session's agent.
    const session = await sessions.status(tech, request.sessionId);
    const startedAt = Date.now();
    const row = {
      kind: vetted.kind,
      technician: tech.subject,
      role: tech.role,
      agent_id: session.agent_id,
      session_id: session.id,
      argv: JSON.stringify(vetted.argv),
      working_directory: vetted.cwd,
      started_at: startedAt,
      stdout_bytes: 0,
      stderr_bytes: 0,
      policy_rule: vetted.decision.rule,
    };
    if (vetted.decision.type === "deny") {
      await audit.start({ ...row, outcome: "refused", channel_id: null, recording_path: null, message: vetted.decision.reason });
      log.warn({ technician: tech.subject, role: tech.role, sessionId: session.id, argv: vetted.argv, rule: vetted.decision.rule }, "command refused by policy");
      throw new ConnectError(vetted.decision.reason, Code.PermissionDenied);
    }
    const channel = await relay.open(tech, request);
    let recorder: AsciicastRecorder | undefined;
    try {
      if (vetted.terminal && this.opts.recordingsDir) {
        const path = join(this.opts.recordingsDir, session.id, `${channel.channelId}-${new Date(startedAt).toISOString().replace(/[:.]/g, "-")}.cast`);
        recorder = new AsciicastRecorder(path, vetted.terminal.size, vetted.terminal);
      }
      const auditId = await audit.start({ ...row, outcome: "running", channel_id: channel.channelId, recording_path: recorder?.path ?? null, message: null });
      const tracker = new CommandTracker(channel, audit, log, {
        auditId,
        idleTimeoutMs: vetted.kind === "terminal" ? this.opts.terminalIdleTimeoutMs : 0,
        recorder,
      });
      return { channel, responses: tracker.responses, fromTechnician: (req) => tracker.fromTechnician(req) };
    } catch (err) {
      // Without its audit row a command must not run.
      channel.end(Code.Unavailable, "could not record the command in the audit trail", true);
      await recorder?.close();
      throw err;
    }
  }

  private vet(tech: Technician, request: ChannelRequest): Vetted {
    const { policy } = this.opts;
    if (request.type === ChannelType.EXEC) {
      if (request.params.case !== "exec") throw new ConnectError("exec channels need exec parameters (params.exec)", Code.InvalidArgument);
      const spec = processSpecOf(request.params.value);
      return { kind: "exec", argv: [spec.program, ...spec.args], cwd: spec.cwd, decision: policy.checkCommand(tech.role, spec.program, spec.args) };
    }
    if (request.params.case !== "terminal") throw new ConnectError("terminal channels need terminal parameters (params.terminal)", Code.InvalidArgument);
    const params = request.params.value;
    const size = params.size ? checkWindowSize(params.size) : DEFAULT_WINDOW_SIZE;
    checkEnvironment(params.environment);
    const shell = params.shell || "(login shell)";
    return { kind: "terminal", argv: [shell], cwd: "", decision: policy.checkTerminal(tech.role), terminal: { size, term: params.term || "xterm-256color", shell } };
  }
}
