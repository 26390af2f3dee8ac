import type { Generated, Kysely } from "kysely";

/** Epoch milliseconds. Stored as BIGINT in both dialects so rows compare and sort the same everywhere. */
export type EpochMs = number;

export type SessionStateName = "opening" | "active" | "closed";

export type CloseReasonName =
  "closed_by_technician" | "agent_disconnected" | "agent_error" | "timeout" | "idle_timeout" | "server_restart";

export type AuditOutcome = "ok" | "refused" | "error";

export interface AgentsTable {
  id: string;
  hostname: string;
  os: string;
  agent_version: string;
  /** JSON array of ChannelType numbers. */
  capabilities: string;
  /** Hex SHA-256 of the agent's secret; the secret itself is never stored. */
  credential_hash: string;
  enrolled_at: EpochMs;
  last_seen_at: EpochMs | null;
  revoked_at: EpochMs | null;
}

export interface TunnelSessionsTable {
  id: string;
  agent_id: string;
  technician: string;
  state: SessionStateName;
  close_reason: CloseReasonName | null;
  close_message: string | null;
  opened_at: EpochMs;
  ready_at: EpochMs | null;
  closed_at: EpochMs | null;
  /** Actor that closed the session (`tech:<sub>` or `system`); the close audit entry's actor. */
  closed_by: string | null;
  /** The close audit entry's outcome. */
  close_outcome: "ok" | "error" | null;
}

export interface AuditEventsTable {
  id: Generated<number>;
  at: EpochMs;
  /** `tech:<sub>`, `agent:<id>` or `system`. */
  actor: string;
  action: string;
  agent_id: string | null;
  session_id: string | null;
  outcome: AuditOutcome;
  reason: string | null;
  /** The call's `x-rmm-via` marker (`mcp/<client>/<version>` for MCP), null for a plain call. Since 0011. */
  via: string | null;
}

export type CommandKind = "exec" | "terminal";
/** `running` until the command ends; a server that starts finds none left running (see CommandAuditStore.failRunning). */
export type CommandOutcome = "running" | "completed" | "refused" | "cancelled" | "timed_out" | "failed";

export interface CommandAuditTable {
  id: Generated<number>;
  kind: CommandKind;
  technician: string;
  role: string;
  agent_id: string;
  session_id: string;
  channel_id: number | null;
  /** JSON array of strings. */
  argv: string;
  working_directory: string;
  started_at: EpochMs;
  ended_at: EpochMs | null;
  outcome: CommandOutcome;
  exit_code: number | null;
  signal: string | null;
  stdout_bytes: number;
  stderr_bytes: number;
  policy_rule: string | null;
  recording_path: string | null;
  message: string | null;
  /** The call's `x-rmm-via` marker, null for a plain call. Since 0011. */
  via: string | null;
}

export type FileOperationName = "upload" | "download" | "stat" | "list" | "prepare_upload";
export type FileTransferOutcome = "ok" | "refused" | "error" | "cancelled";

export interface FileTransfersTable {
  id: Generated<number>;
  at: EpochMs;
  /** Subject of the technician's token. */
  technician: string;
  agent_id: string;
  session_id: string;
  operation: FileOperationName;
  /** The path as the technician gave it. */
  path: string;
  /** Size of the whole file, when known. */
  size: number | null;
  /** Bytes this call carried (less than size when it resumed). */
  bytes_transferred: number;
  resumed_from: number;
  /** Hex SHA-256 of the whole file, once verified. */
  sha256: string | null;
  outcome: FileTransferOutcome;
  reason: string | null;
  /** The call's `x-rmm-via` marker, null for a plain call. Since 0011. */
  via: string | null;
}

export interface Database {
  agents: AgentsTable;
  tunnel_sessions: TunnelSessionsTable;
  audit_events: AuditEventsTable;
  command_audit: CommandAuditTable;
  file_transfers: FileTransfersTable;
}

export type Db = Kysely<Database>;
