import type { Insertable, Selectable } from "kysely";
import type { Db, EpochMs, FileTransferOutcome, FileTransfersTable } from "./database.js";

export type FileTransferEvent = Insertable<FileTransfersTable>;
export type FileTransferRow = Selectable<FileTransfersTable>;

/** How a running transfer's row is completed. */
export type FileTransferEnd = Pick<
  FileTransfersTable,
  "size" | "bytes_transferred" | "resumed_from" | "sha256" | "reason"
> & {
  outcome: Exclude<FileTransferOutcome, "running">;
};

/**
 * The file transfer trail: refusals are appended whole; an Upload or Download is a row written
 * `running` when it starts and completed once when it ends, so a server killed mid-transfer still
 * leaves its row (marked failed at the next start).
 */
export class FileTransferStore {
  constructor(
    private readonly db: Db,
    /** In cluster mode, the node whose sessions' transfers failRunning ends (its earlier run's). */
    private readonly nodeId?: string,
  ) {}

  async append(event: FileTransferEvent): Promise<void> {
    await this.db.insertInto("file_transfers").values(event).execute();
  }

  /** Returns the row id. */
  async start(event: FileTransferEvent & { outcome: "running" }): Promise<number> {
    const result = await this.db.insertInto("file_transfers").values(event).executeTakeFirstOrThrow();
    return Number(result.insertId);
  }

  /** Only a running row is finished: a row ends once. */
  async finish(id: number, end: FileTransferEnd): Promise<void> {
    await this.db
      .updateTable("file_transfers")
      .set(end)
      .where("id", "=", id)
      .where("outcome", "=", "running")
      .execute();
  }

  /**
   * Transfers a previous server left running died with it. Outside cluster
   * mode, every one. In it, those of this node's sessions; with `openedBy`, only
   * of sessions opened by then (a dead node's reaper: later sessions are a
   * restart's under the same id).
   */
  async failRunning(reason: string, openedBy?: EpochMs): Promise<number> {
    const result = await this.db
      .updateTable("file_transfers")
      .set({ outcome: "failed", reason })
      .where("outcome", "=", "running")
      .$if(this.nodeId !== undefined, (q) =>
        q.where("session_id", "in", (s) =>
          s
            .selectFrom("tunnel_sessions")
            .select("tunnel_sessions.id")
            .where("tunnel_sessions.node_id", "=", this.nodeId ?? "")
            .$if(openedBy !== undefined, (w) => w.where("tunnel_sessions.opened_at", "<=", openedBy ?? 0)),
        ),
      )
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async forSession(sessionId: string): Promise<FileTransferRow[]> {
    const rows = await this.db
      .selectFrom("file_transfers")
      .selectAll()
      .where("session_id", "=", sessionId)
      .orderBy("id")
      .execute();
    // mysql2 returns BIGINT as strings or numbers depending on size; callers get numbers.
    return rows.map((r) => ({
      ...r,
      size: r.size === null ? null : Number(r.size),
      bytes_transferred: Number(r.bytes_transferred),
      resumed_from: Number(r.resumed_from),
      at: Number(r.at),
      id: Number(r.id),
    }));
  }
}
