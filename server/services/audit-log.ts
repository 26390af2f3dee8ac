import { cutText } from "../../common/cut-text.js";
import type { Logger } from "../../common/logger.js";
import type { AuditOutcome, AuditStore } from "../store/index.js";

export type AuditAction =
  | "agent.enroll"
  | "agent.connect"
  | "agent.revoke"
  | "agent.delete"
  | "agent.protocol_faults"
  | "auth.refused"
  | "token.revoke"
  | "agent.labels"
  | "job.create"
  | "job.cancel"
  | "tunnel.open"
  | "tunnel.close"
  | "tunnel.status"
  | "mcp.refused"
  | "recording.download";

export interface AuditEntry {
  /** `tech:<sub>`, `agent:<id>` or `system`. */
  actor: string;
  action: AuditAction;
  outcome: AuditOutcome;
  agentId?: string | undefined;
  sessionId?: string | undefined;
  reason?: string | undefined;
  /** The call's `x-rmm-via` marker, when it had one. */
  via?: string | undefined;
}

export const actorOf = {
  technician: (subject: string) => `tech:${subject}`,
  agent: (agentId: string) => `agent:${agentId}`,
  system: "system",
} as const;

/** Longest reason kept; the column is varchar(1024). */
const MAX_REASON = 1_000;

export class AuditLog {
  constructor(
    private readonly store: AuditStore,
    private readonly log: Logger,
  ) {}

  /** Writes the entry; fails if the database does. */
  async record(entry: AuditEntry): Promise<void> {
    await this.store.append({
      at: Date.now(),
      actor: entry.actor,
      action: entry.action,
      outcome: entry.outcome,
      agent_id: entry.agentId ?? null,
      session_id: entry.sessionId ?? null,
      reason: entry.reason === undefined ? null : cutText(entry.reason, MAX_REASON),
      via: entry.via ?? null,
    });
  }

  /**
   * For paths that are already failing: the original error matters more than
   * the audit write, so a failed write is logged with the whole entry rather
   * than thrown, and the event is not lost.
   */
  async recordBestEffort(entry: AuditEntry): Promise<void> {
    try {
      await this.record(entry);
    } catch (err) {
      this.log.error({ err, audit: entry }, "audit write failed; entry kept in this log");
    }
  }
}
