import type { Insertable, Selectable } from "kysely";
import type { CommandAuditTable, CommandOutcome, Db, EpochMs } from "./database.js";

export type CommandStart = Omit<Insertable<CommandAuditTable>, "id" | "ended_at">;
export type CommandAuditRow = Selectable<CommandAuditTable>;

export interface CommandEnd {
  outcome: Exclude<CommandOutcome, "running">;
  endedAt: EpochMs;
  exitCode?: number | null;
  signal?: string | null;
  stdoutBytes: number;
  stderrBytes: number;
  message?: string | null;
  /** The channel the command ran on: known only after the row was written (the row comes first). */
  channelId?: number | null;
  /** null clears the recording path (the recording could not be written); undefined leaves it. */
  recordingPath?: null;
}

/** The command audit trail: a row when a command is asked for, completed once it ends. */
export class CommandAuditStore {
  constructor(
    private readonly db: Db,
    /** In cluster mode, the node whose sessions' commands failRunning ends (its earlier run's). */
    private readonly nodeId?: string,
  ) {}

  /** Returns the row id. */
  async start(row: CommandStart): Promise<number> {
    const result = await this.db.insertInto("command_audit").values(row).executeTakeFirstOrThrow();
    return Number(result.insertId);
  }

  /** Only a running row is finished: a row ends once. */
  async finish(id: number, end: CommandEnd): Promise<void> {
    await this.db
      .updateTable("command_audit")
      .set({
        outcome: end.outcome,
        ended_at: end.endedAt,
        exit_code: end.exitCode ?? null,
        signal: end.signal || null,
        stdout_bytes: end.stdoutBytes,
        stderr_bytes: end.stderrBytes,
        message: end.message ? end.message.slice(0, 1024) : null,
        ...(end.channelId != null && { channel_id: end.channelId }),
        ...(end.recordingPath === null && { recording_path: null }),
      })
      .where("id", "=", id)
      .where("outcome", "=", "running")
      .execute();
  }

  /**
   * Rows a previous server left running can never be finished (their channels
   * died with it): mark them failed. Outside cluster mode, every one. In it,
   * those of this node's sessions; with `openedBy`, only of sessions opened by
   * then (a dead node's reaper: later sessions are a restart's under the same id).
   */
  async failRunning(at: EpochMs, openedBy?: EpochMs): Promise<number> {
    const result = await this.db
      .updateTable("command_audit")
      .set({ outcome: "failed", ended_at: at, message: "the server stopped while the command ran" })
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

  async forSession(sessionId: string): Promise<CommandAuditRow[]> {
    return (
      await this.db.selectFrom("command_audit").selectAll().where("session_id", "=", sessionId).orderBy("id").execute()
    ).map(normalizeCommandAuditRow);
  }
}

/** MySQL returns BIGINT columns as strings. */
export function normalizeCommandAuditRow(row: CommandAuditRow): CommandAuditRow {
  return {
    ...row,
    id: Number(row.id),
    started_at: Number(row.started_at),
    ended_at: row.ended_at === null ? null : Number(row.ended_at),
    stdout_bytes: Number(row.stdout_bytes),
    stderr_bytes: Number(row.stderr_bytes),
  };
}
