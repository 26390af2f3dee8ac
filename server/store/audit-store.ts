import type { Insertable, Selectable } from "kysely";
import type { AuditEventsTable, Db } from "./database.js";

export type AuditEvent = Insertable<AuditEventsTable>;
export type AuditRow = Selectable<AuditEventsTable>;

/** Append-only: there is deliberately no update or delete here (the database refuses both too). */
export class AuditStore {
  constructor(private readonly db: Db) {}

  async append(event: AuditEvent): Promise<void> {
    await this.db.insertInto("audit_events").values(event).execute();
  }

  async forSession(sessionId: string): Promise<AuditRow[]> {
    return this.db.selectFrom("audit_events").selectAll().where("session_id", "=", sessionId).orderBy("id").execute();
  }

  async forAgent(agentId: string): Promise<AuditRow[]> {
    return this.db.selectFrom("audit_events").selectAll().where("agent_id", "=", agentId).orderBy("id").execute();
  }
}
