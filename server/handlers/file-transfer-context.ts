import { Code, ConnectError } from "@connectrpc/connect";
import { FILE_WINDOW_BYTES } from "../../common/file-chunks.js";
import type { FileOperation } from "../../gen/rmm/v1/file_pb.js";
import { ChannelType } from "../../gen/rmm/v1/frame_pb.js";
import type { Technician } from "../auth/claims.js";
import type { CommandPolicy } from "../policy/command-policy.js";
import { ChannelDriver, type ChannelDriverOptions } from "../services/channel-driver.js";
import type { ChannelRelay } from "../services/channel-relay.js";
import type { FileTransferEntry, FileTransferLog, RunningTransfer } from "../services/file-transfer-log.js";
import type { SessionService } from "../services/session-service.js";
import type { FileOperationName, FileTransferOutcome } from "../store/index.js";

export interface FileTransferDeps {
  relay: ChannelRelay;
  transfers: FileTransferLog;
  /** Largest file one Upload or Download may carry; 0: no limit. */
  maxTransferBytes: number;
  /** Decides per role which files may be read or written. */
  policy: CommandPolicy;
  /** Ownership of the session, and its agent for auditing a refusal. */
  sessions: SessionService;
}

const NEED: Record<FileOperationName, "read" | "write"> = {
  stat: "read",
  list: "read",
  download: "read",
  prepare_upload: "write",
  make_directory: "write",
  upload: "write",
};

/**
 * The policy's word on one file request, before any channel opens. Returns
 * the path to send to the agent (normalised, so the agent opens what the
 * policy judged); a refusal is audited as refused and thrown as
 * PermissionDenied naming the role and the setting.
 */
export async function authorizeFile(
  deps: FileTransferDeps,
  tech: Technician,
  sessionId: string,
  operation: FileOperationName,
  path: string,
  size?: number,
): Promise<string> {
  if (deps.policy.isAllowAll) return path;
  // Ownership first (NotFound / PermissionDenied), as for commands: a refusal is audited against the session's agent.
  const session = await deps.sessions.status(tech, sessionId);
  const decision = deps.policy.checkFile(tech.role, NEED[operation], path);
  if (decision.type === "allow") return decision.path;
  const err = new ConnectError(decision.reason, Code.PermissionDenied);
  await deps.transfers.record({
    technician: tech.subject,
    via: tech.via,
    agentId: session.agent_id,
    sessionId: session.id,
    operation,
    path: decision.path,
    size,
    outcome: "refused",
    reason: `PermissionDenied: ${decision.reason}`,
  });
  throw err;
}

/** Opens the file channel for one operation on the technician's session. */
export function openFileChannel(
  deps: FileTransferDeps,
  tech: Technician,
  sessionId: string,
  kind: FileOperation["kind"],
  opts: ChannelDriverOptions,
): Promise<ChannelDriver> {
  // The role's path rules travel with the operation: only the agent can see where a symlink leads.
  const allowedPaths = [...deps.policy.filePathGlobs(tech.role)];
  return ChannelDriver.open(
    deps.relay,
    tech,
    {
      sessionId,
      type: ChannelType.FILE,
      params: { case: "file", value: { $typeName: "rmm.v1.FileOperation", kind, allowedPaths } },
    },
    { windowBytes: FILE_WINDOW_BYTES, ...opts },
  );
}

export function outcomeOf(err: unknown): FileTransferOutcome {
  const code = err instanceof ConnectError ? err.code : Code.Internal;
  const overLimit = code === Code.ResourceExhausted && /--max-transfer-bytes/.test((err as ConnectError).rawMessage);
  if (code === Code.PermissionDenied || code === Code.AlreadyExists || overLimit) return "refused";
  if (code === Code.Canceled) return "cancelled";
  return "error";
}

/** A failed file request's outcome and reason, as the audit trail keeps them. */
export function failureOf(err: unknown): { outcome: FileTransferOutcome; reason: string } {
  return {
    outcome: outcomeOf(err),
    reason: err instanceof ConnectError ? `${Code[err.code]}: ${err.rawMessage}` : String(err),
  };
}

/** Records a failed Stat, ListDirectory, PrepareUpload or MakeDirectory: refusals only (the policy trail); those failing otherwise are not transfers. */
export async function recordFailure(
  deps: FileTransferDeps,
  entry: Omit<FileTransferEntry, "outcome" | "reason">,
  err: unknown,
): Promise<void> {
  const failure = failureOf(err);
  if (failure.outcome !== "refused") return;
  await deps.transfers.record({ ...entry, ...failure });
}

/**
 * The audit row of an Upload or Download whose channel just opened, written as running before any
 * data moves. If it cannot be written the transfer does not start: the channel is closed and the
 * call fails with Unavailable.
 */
export async function beginTransfer(
  deps: FileTransferDeps,
  driver: ChannelDriver,
  entry: Omit<FileTransferEntry, "outcome">,
): Promise<RunningTransfer> {
  try {
    return await deps.transfers.begin(entry);
  } catch (err) {
    driver.close(Code.Unavailable, "the server could not audit the transfer");
    throw new ConnectError(
      `the transfer was not started: its audit row could not be written (${(err as Error).message})`,
      Code.Unavailable,
    );
  }
}
