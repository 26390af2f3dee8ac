import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "../../common/logger.js";
import { checkEnvironment, MAX_WORKING_DIRECTORY_CHARS, processSpecOf } from "../../common/process-params.js";
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

/** Longest argv the audit trail holds, as the JSON it stores, in UTF-8 bytes: the argv column is MySQL `text` (65,535 bytes). */
export const MAX_AUDIT_ARGV_BYTES = 65_535;

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
    const argvJson = JSON.stringify(vetted.argv);
    if (Buffer.byteLength(argvJson) > MAX_AUDIT_ARGV_BYTES) {
      // Checked before anything is audited: a command that cannot be audited whole does not run.
      throw new ConnectError(
        `argv is ${Buffer.byteLength(argvJson)} bytes as the audit trail stores it (JSON, UTF-8), ` +
          `over its limit of ${MAX_AUDIT_ARGV_BYTES}: shorten it, or send the data on stdin`,
        Code.InvalidArgument,
      );
    }
    // Ownership first (NotFound / PermissionDenied): a refusal is audited against the session's agent.
    const session = await sessions.status(tech, request.sessionId);
    const startedAt = Date.now();
    const row = {
      kind: vetted.kind,
      technician: tech.subject,
      role: tech.role,
      agent_id: session.agent_id,
      session_id: session.id,
      argv: argvJson,
      working_directory: vetted.cwd,
      started_at: startedAt,
      stdout_bytes: 0,
      stderr_bytes: 0,
      policy_rule: vetted.decision.rule,
      via: tech.via ?? null,
    };
    if (vetted.decision.type === "deny") {
      await audit.start({
        ...row,
        outcome: "refused",
        channel_id: null,
        recording_path: null,
        message: vetted.decision.reason,
      });
      log.warn(
        {
          technician: tech.subject,
          role: tech.role,
          sessionId: session.id,
          argv: vetted.argv,
          rule: vetted.decision.rule,
        },
        "command refused by policy",
      );
      throw new ConnectError(vetted.decision.reason, Code.PermissionDenied);
    }
    // The row exists before the agent hears of the command: without it the command must not run.
    const recordingPath =
      vetted.terminal && this.opts.recordingsDir
        ? join(
            this.opts.recordingsDir,
            session.id,
            `${new Date(startedAt).toISOString().replace(/[:.]/g, "-")}-${randomUUID()}.cast`,
          )
        : null;
    const auditId = await audit.start({
      ...row,
      outcome: "running",
      channel_id: null,
      recording_path: recordingPath,
      message: null,
    });
    let channel: RelayedChannel;
    try {
      channel = await relay.open(tech, request);
    } catch (err) {
      const e = ConnectError.from(err);
      await audit
        .finish(auditId, {
          outcome: "failed",
          endedAt: Date.now(),
          stdoutBytes: 0,
          stderrBytes: 0,
          message: `${Code[e.code]}: ${e.rawMessage}`,
        })
        .catch((auditErr: unknown) =>
          log.error({ err: auditErr, auditId }, "could not complete the command audit row"),
        );
      throw e;
    }
    const recorder =
      vetted.terminal && recordingPath
        ? new AsciicastRecorder(
            recordingPath,
            vetted.terminal.size,
            vetted.terminal,
            log.child({ sessionId: session.id, channelId: channel.channelId }),
          )
        : undefined;
    const tracker = new CommandTracker(channel, audit, log, {
      auditId,
      idleTimeoutMs: vetted.kind === "terminal" ? this.opts.terminalIdleTimeoutMs : 0,
      recorder,
    });
    return { channel, responses: tracker.responses, fromTechnician: (req) => tracker.fromTechnician(req) };
  }

  private vet(tech: Technician, request: ChannelRequest): Vetted {
    const { policy } = this.opts;
    if (request.type === ChannelType.EXEC) {
      if (request.params.case !== "exec")
        throw new ConnectError("exec channels need exec parameters (params.exec)", Code.InvalidArgument);
      const spec = processSpecOf(request.params.value);
      return {
        kind: "exec",
        argv: [spec.program, ...spec.args],
        cwd: spec.cwd,
        decision: policy.checkCommand(tech.role, spec.program, spec.args, spec.env),
      };
    }
    if (request.params.case !== "terminal")
      throw new ConnectError("terminal channels need terminal parameters (params.terminal)", Code.InvalidArgument);
    const params = request.params.value;
    const size = params.size ? checkWindowSize(params.size) : DEFAULT_WINDOW_SIZE;
    const env = checkEnvironment(params.environment);
    if (params.shell.length > MAX_WORKING_DIRECTORY_CHARS)
      throw new ConnectError(`shell is longer than ${MAX_WORKING_DIRECTORY_CHARS} characters`, Code.InvalidArgument);
    const shell = params.shell || "(login shell)";
    return {
      kind: "terminal",
      argv: [shell],
      cwd: "",
      decision: policy.checkTerminal(tech.role, env),
      terminal: { size, term: params.term || "xterm-256color", shell },
    };
  }
}
