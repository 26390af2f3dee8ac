import type { Insertable, Selectable } from "kysely";
import type { Db, ForwardAuditTable } from "./database.js";

export type ForwardAuditEntry = Insertable<ForwardAuditTable>;
export type ForwardAuditRow = Selectable<ForwardAuditTable>;

/** The port forwarding trail: one row per connection, appended when it ends, never changed. */
export class ForwardAuditStore {
  constructor(private readonly db: Db) {}

  async append(entry: ForwardAuditEntry): Promise<void> {
    await this.db.insertInto("forward_audit").values(entry).execute();
  }

  async forSession(sessionId: string): Promise<ForwardAuditRow[]> {
    const rows = await this.db
      .selectFrom("forward_audit")
      .selectAll()
      .where("session_id", "=", sessionId)
      .orderBy("id")
      .execute();
    // mysql2 returns BIGINT as strings or numbers depending on size; callers get numbers.
    return rows.map((r) => ({
      ...r,
      id: Number(r.id),
      started_at: Number(r.started_at),
      ended_at: Number(r.ended_at),
      bytes_to_target: Number(r.bytes_to_target),
      bytes_from_target: Number(r.bytes_from_target),
    }));
  }
}
