import type { Insertable, Selectable } from "kysely";
import type { Db, FileTransfersTable } from "./database.js";

export type FileTransferEvent = Insertable<FileTransfersTable>;
export type FileTransferRow = Selectable<FileTransfersTable>;

/** The file transfer trail: appended to, never changed. */
export class FileTransferStore {
  constructor(private readonly db: Db) {}

  async append(event: FileTransferEvent): Promise<void> {
    await this.db.insertInto("file_transfers").values(event).execute();
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
