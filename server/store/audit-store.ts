import type { Insertable, Selectable } from "kysely";
import type { AuditEventsTable, AuditOutcome, Db } from "./database.js";

export type AuditEvent = Insertable<AuditEventsTable>;
export type AuditRow = Selectable<AuditEventsTable>;

export interface AuditFilter {
  actor?: string;
  agentId?: string;
  action?: string;
  outcome?: AuditOutcome;
  sinceMs?: number;
  untilMs?: number;
}

/** Append-only: there is deliberately no update or delete here (the database refuses both too). */
export class AuditStore {
  constructor(private readonly db: Db) {}

  async append(event: AuditEvent): Promise<void> {
    await this.db.insertInto("audit_events").values(event).execute();
  }

  /** Events matching every set filter with id below `beforeId` (0: from the newest), newest first. */
  async list(filter: AuditFilter, beforeId: number, limit: number): Promise<AuditRow[]> {
    let q = this.db.selectFrom("audit_events").selectAll();
    if (beforeId > 0) q = q.where("id", "<", beforeId);
    if (filter.actor) q = q.where("actor", "=", filter.actor);
    if (filter.agentId) q = q.where("agent_id", "=", filter.agentId);
    if (filter.action) q = q.where("action", "=", filter.action);
    if (filter.outcome) q = q.where("outcome", "=", filter.outcome);
    if (filter.sinceMs !== undefined) q = q.where("at", ">=", filter.sinceMs);
    if (filter.untilMs !== undefined) q = q.where("at", "<", filter.untilMs);
    return q.orderBy("id", "desc").limit(limit).execute();
  }

  async forSession(sessionId: string): Promise<AuditRow[]> {
    return this.db.selectFrom("audit_events").selectAll().where("session_id", "=", sessionId).orderBy("id").execute();
  }

  async forAgent(agentId: string): Promise<AuditRow[]> {
    return this.db.selectFrom("audit_events").selectAll().where("agent_id", "=", agentId).orderBy("id").execute();
  }
}
