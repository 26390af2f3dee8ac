import { Code, ConnectError } from "@connectrpc/connect";
import { FILE_WINDOW_BYTES } from "../../common/file-chunks.js";
import type { FileOperation } from "../../gen/rmm/v1/file_pb.js";
import { ChannelType } from "../../gen/rmm/v1/frame_pb.js";
import type { Technician } from "../auth/claims.js";
import { ChannelDriver, type ChannelDriverOptions } from "../services/channel-driver.js";
import type { ChannelRelay } from "../services/channel-relay.js";
import type { FileTransferEntry, FileTransferLog } from "../services/file-transfer-log.js";
import type { FileTransferOutcome } from "../store/index.js";

export interface FileTransferDeps {
  relay: ChannelRelay;
  transfers: FileTransferLog;
  /** Largest file one Upload or Download may carry; 0: no limit. */
  maxTransferBytes: number;
}

/** Opens the file channel for one operation on the technician's session. */
export function openFileChannel(deps: FileTransferDeps, tech: Technician, sessionId: string, kind: FileOperation["kind"], opts: ChannelDriverOptions): Promise<ChannelDriver> {
  return ChannelDriver.open(deps.relay, tech, { sessionId, type: ChannelType.FILE, params: { case: "file", value: { $typeName: "rmm.v1.FileOperation", kind } } }, { windowBytes: FILE_WINDOW_BYTES, ...opts });
}

export function outcomeOf(err: unknown): FileTransferOutcome {
  const code = err instanceof ConnectError ? err.code : Code.Internal;
  const overLimit = code === Code.ResourceExhausted && /--max-transfer-bytes/.test((err as ConnectError).rawMessage);
  if (code === Code.PermissionDenied || code === Code.AlreadyExists || overLimit) return "refused";
  if (code === Code.Canceled) return "cancelled";
  return "error";
}

/** Records a failed file request: refusals always (the policy trail), failed transfers always; stat/list failures other than refusals are not transfers. */
export async function recordFailure(deps: FileTransferDeps, entry: Omit<FileTransferEntry, "outcome" | "reason">, err: unknown): Promise<void> {
  const outcome = outcomeOf(err);
  const transfer = entry.operation === "upload" || entry.operation === "download";
  if (!transfer && outcome !== "refused") return;
  await deps.transfers.record({ ...entry, outcome, reason: err instanceof ConnectError ? `${Code[err.code]}: ${err.rawMessage}` : String(err) });
}
