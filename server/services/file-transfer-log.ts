import type { Logger } from "../../common/logger.js";
import type { FileOperationName, FileTransferOutcome, FileTransferStore } from "../store/index.js";

export interface FileTransferEntry {
  technician: string;
  agentId: string;
  sessionId: string;
  operation: FileOperationName;
  path: string;
  size?: number | undefined;
  bytesTransferred?: number;
  resumedFrom?: number;
  /** Hex. */
  sha256?: string | undefined;
  outcome: FileTransferOutcome;
  reason?: string | undefined;
  /** The call's `x-rmm-via` marker, when it had one. */
  via?: string | undefined;
}

/** Longest reason and path kept; the columns are varchar(1024) and varchar(4096). */
const MAX_REASON = 1_000;
const MAX_PATH = 4_000;

/**
 * Audit of file transfers: who moved which file to or from which agent, how
 * big, its SHA-256 and how it ended. Written after the transfer, when all of
 * that is known; a failed write is logged with the whole entry rather than
 * failing a transfer that already happened.
 */
export class FileTransferLog {
  constructor(
    private readonly store: FileTransferStore,
    private readonly log: Logger,
  ) {}

  async record(entry: FileTransferEntry): Promise<void> {
    try {
      await this.store.append({
        at: Date.now(),
        technician: entry.technician,
        agent_id: entry.agentId,
        session_id: entry.sessionId,
        operation: entry.operation,
        path: entry.path.slice(0, MAX_PATH),
        size: entry.size ?? null,
        bytes_transferred: entry.bytesTransferred ?? 0,
        resumed_from: entry.resumedFrom ?? 0,
        sha256: entry.sha256 ?? null,
        outcome: entry.outcome,
        reason: entry.reason === undefined ? null : entry.reason.slice(0, MAX_REASON),
        via: entry.via ?? null,
      });
    } catch (err) {
      this.log.error({ err, fileTransfer: entry }, "file transfer audit write failed; entry kept in this log");
    }
  }
}
