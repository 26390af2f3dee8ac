import type { Message } from "@bufbuild/protobuf";
import type {
  CloseTunnelRequest,
  DownloadRequest,
  DownloadResponse,
  ExecRequest,
  ExecResponse,
  GetTunnelStatusRequest,
  ListDirectoryRequest,
  OpenChannelRequest,
  OpenChannelResponse,
  OpenTunnelRequest,
  OpenTunnelResponse,
  CloseTunnelResponse,
  PrepareUploadRequest,
  MakeDirectoryRequest,
  StatRequest,
  UploadRequest,
  UploadResponse,
} from "../../gen/rmm/v1/tunnel_service_pb.js";
import type { ExecParams, ExitStatus } from "../../gen/rmm/v1/exec_pb.js";
import { ChannelType } from "../../gen/rmm/v1/frame_pb.js";

/** What one technician call was about, as its log line names it. Only what identifies the action; never data. */
export interface ActionFields {
  sessionId?: string;
  agentId?: string;
  argv?: string[];
  shell?: string;
  commandLine?: string;
  path?: string;
  channelType?: string;
  /** File size: an upload's bytes received, a download's file size. */
  bytes?: number;
  exitCode?: number;
  signal?: string;
}

/** Longest argv element or command line logged; the audit trail keeps the whole thing. */
const MAX_LOGGED_ARG_CHARS = 512;
const MAX_LOGGED_ARGS = 64;

type Known =
  | OpenTunnelRequest
  | CloseTunnelRequest
  | GetTunnelStatusRequest
  | ExecRequest
  | StatRequest
  | ListDirectoryRequest
  | PrepareUploadRequest
  | MakeDirectoryRequest
  | DownloadRequest
  | UploadRequest
  | OpenChannelRequest
  | OpenChannelResponse
  | OpenTunnelResponse
  | CloseTunnelResponse
  | ExecResponse
  | UploadResponse
  | DownloadResponse;

/** Fields of a request (or a stream's first message) or a response that say what the call did. */
export function actionFields(message: Message): ActionFields {
  const m = message as Known;
  switch (m.$typeName) {
    case "rmm.v1.OpenTunnelRequest":
      return { agentId: m.agentId };
    case "rmm.v1.CloseTunnelRequest":
    case "rmm.v1.GetTunnelStatusRequest":
      return { sessionId: m.sessionId };
    case "rmm.v1.ExecRequest":
      return { sessionId: m.sessionId, ...(m.agentId && { agentId: m.agentId }), ...commandFields(m.params) };
    case "rmm.v1.StatRequest":
    case "rmm.v1.ListDirectoryRequest":
    case "rmm.v1.DownloadRequest":
      return { sessionId: m.sessionId, path: cut(m.path) };
    case "rmm.v1.PrepareUploadRequest":
      return { sessionId: m.sessionId, path: cut(m.target?.path ?? "") };
    case "rmm.v1.MakeDirectoryRequest":
      return { sessionId: m.sessionId, path: cut(m.directory?.path ?? "") };
    case "rmm.v1.UploadRequest":
      return m.kind.case === "start"
        ? { sessionId: m.kind.value.sessionId, path: cut(m.kind.value.target?.path ?? "") }
        : {};
    case "rmm.v1.OpenChannelRequest": {
      if (m.kind.case !== "open") return {};
      const { sessionId, agentId, type, params } = m.kind.value;
      return {
        sessionId,
        // A one-shot channel names its agent instead (ChannelOpenParams.agent_id).
        ...(agentId && { agentId }),
        channelType: (ChannelType[type] ?? String(type)).toLowerCase(),
        ...(params.case === "exec" ? commandFields(params.value) : {}),
        ...(params.case === "terminal" && params.value.shell ? { shell: params.value.shell } : {}),
      };
    }
    case "rmm.v1.OpenChannelResponse":
      return m.kind.case === "close" && m.kind.value.exit ? exitFields(m.kind.value.exit) : {};
    case "rmm.v1.OpenTunnelResponse":
    case "rmm.v1.CloseTunnelResponse":
      return m.session ? { sessionId: m.session.id, agentId: m.session.agentId } : {};
    case "rmm.v1.ExecResponse":
      return m.kind.case === "exit" ? exitFields(m.kind.value) : {};
    case "rmm.v1.UploadResponse":
      return { bytes: Number(m.info?.size ?? m.bytesReceived) };
    case "rmm.v1.DownloadResponse":
      return m.kind.case === "start" ? { bytes: Number(m.kind.value.info?.size ?? 0n) } : {};
    default:
      return {};
  }
}

function commandFields(params: ExecParams | undefined): ActionFields {
  if (!params) return {};
  const shell = params.shellCommand;
  return {
    ...(params.argv.length > 0 ? { argv: bounded(params.argv) } : {}),
    ...(shell ? { shell: shell.shell, commandLine: cut(shell.commandLine) } : {}),
  };
}

function exitFields(exit: ExitStatus): ActionFields {
  return {
    ...(exit.exitCode !== undefined ? { exitCode: exit.exitCode } : {}),
    ...(exit.signal ? { signal: exit.signal } : {}),
  };
}

function cut(text: string): string {
  return text.length > MAX_LOGGED_ARG_CHARS ? `${text.slice(0, MAX_LOGGED_ARG_CHARS)}...` : text;
}

function bounded(argv: readonly string[]): string[] {
  const head = argv.slice(0, MAX_LOGGED_ARGS).map(cut);
  return argv.length > MAX_LOGGED_ARGS ? [...head, `... ${argv.length - MAX_LOGGED_ARGS} more`] : head;
}
