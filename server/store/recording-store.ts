import { normalizeCommandAuditRow, type CommandAuditRow } from "./command-audit-store.js";
import type { Db } from "./database.js";

/** A recording is its terminal's command audit row, with the path the recorder wrote to. */
export type RecordingRow = CommandAuditRow & { recording_path: string };

export interface RecordingFilter {
  agentId?: string;
  technician?: string;
  sessionId?: string;
  sinceMs?: number;
  untilMs?: number;
}

/**
 * Terminal recordings, read from the command audit trail: each terminal the
 * server recorded has a row whose recording_path names its file (cleared
 * when the file could not be written), so there is no second table to keep
 * in step with it.
 */
export class RecordingStore {
  constructor(private readonly db: Db) {}

  /** Recordings matching every set filter with id below `beforeId` (0: from the newest), newest first. */
  async list(filter: RecordingFilter, beforeId: number, limit: number): Promise<RecordingRow[]> {
    let q = this.recordings();
    if (beforeId > 0) q = q.where("id", "<", beforeId);
    if (filter.agentId) q = q.where("agent_id", "=", filter.agentId);
    if (filter.technician) q = q.where("technician", "=", filter.technician);
    if (filter.sessionId) q = q.where("session_id", "=", filter.sessionId);
    if (filter.sinceMs !== undefined) q = q.where("started_at", ">=", filter.sinceMs);
    if (filter.untilMs !== undefined) q = q.where("started_at", "<", filter.untilMs);
    return (await q.orderBy("id", "desc").limit(limit).execute()).map(normalize);
  }

  async get(id: number): Promise<RecordingRow | undefined> {
    const row = await this.recordings().where("id", "=", id).executeTakeFirst();
    return row && normalize(row);
  }

  private recordings() {
    return this.db
      .selectFrom("command_audit")
      .selectAll()
      .where("kind", "=", "terminal")
      .where("recording_path", "is not", null);
  }
}

function normalize(row: CommandAuditRow): RecordingRow {
  return { ...normalizeCommandAuditRow(row), recording_path: row.recording_path ?? "" };
}
