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

/** The row of one transfer under way; `finish` completes it once (later calls do nothing). */
export interface RunningTransfer {
  finish(entry: FileTransferEntry): Promise<void>;
}

/** Reason given to transfers a previous server left running. */
export const SERVER_STOPPED_REASON = "the server stopped during the transfer";

/**
 * Audit of file transfers: who moved which file to or from which agent, how
 * big, its SHA-256 and how it ended. An Upload or Download is written as
 * `running` before any data moves (a transfer that cannot be audited does not
 * start) and completed at its end; a failed completion is logged with the
 * whole entry rather than failing a transfer that already happened.
 */
export class FileTransferLog {
  constructor(
    private readonly store: FileTransferStore,
    private readonly log: Logger,
  ) {}

  /** Writes the transfer's row as running; throws (as Unavailable at the RPC boundary) if it cannot. */
  async begin(entry: Omit<FileTransferEntry, "outcome">): Promise<RunningTransfer> {
    const id = await this.store.start({ ...this.row(entry), outcome: "running" });
    let finished = false;
    return {
      finish: async (end) => {
        if (finished) return;
        finished = true;
        if (end.outcome === "running") throw new Error("a transfer cannot finish as running");
        const row = this.row(end);
        try {
          await this.store.finish(id, {
            size: row.size,
            bytes_transferred: row.bytes_transferred,
            resumed_from: row.resumed_from,
            sha256: row.sha256,
            reason: row.reason,
            outcome: end.outcome,
          });
        } catch (err) {
          this.log.error(
            { err, fileTransfer: end, rowId: id },
            "file transfer audit write failed; entry kept in this log",
          );
        }
      },
    };
  }

  /** At start: what a previous server left running can never finish. */
  async failLeftovers(): Promise<number> {
    return this.store.failRunning(SERVER_STOPPED_REASON);
  }

  /** A request that ended before it started a transfer (a refusal): one row, whole. */
  async record(entry: FileTransferEntry): Promise<void> {
    try {
      await this.store.append({ ...this.row(entry), outcome: entry.outcome });
    } catch (err) {
      this.log.error({ err, fileTransfer: entry }, "file transfer audit write failed; entry kept in this log");
    }
  }

  private row(entry: Omit<FileTransferEntry, "outcome">) {
    return {
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
      reason: entry.reason === undefined ? null : entry.reason.slice(0, MAX_REASON),
      via: entry.via ?? null,
    };
  }
}
