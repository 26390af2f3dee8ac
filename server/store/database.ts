import type { Generated, Kysely } from "kysely";

/** Epoch milliseconds. Stored as BIGINT in both dialects so rows compare and sort the same everywhere. */
export type EpochMs = number;

export type SessionStateName = "opening" | "active" | "closed";

export type CloseReasonName =
  | "closed_by_technician"
  | "agent_disconnected"
  | "agent_error"
  | "timeout"
  | "idle_timeout"
  | "server_restart"
  | "open_failed"
  | "released"
  | "node_lost";

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
  /** JSON object of the labels the agent reports; null: none. */
  reported_labels: string | null;
  /** JSON object of the labels admins set (SetAgentLabels); null: none. */
  server_labels: string | null;
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
  /** 1 when opened exclusive (migration 0006). */
  exclusive: number;
  /** 1 while the server closes it once its last channel has closed (migration 0006). */
  ephemeral: number;
  /** The cluster node serving it; null outside cluster mode (migration 0013). */
  node_id: string | null;
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
  /** Set for job steps, which have no session (their session_id is ""). */
  job_id: string | null;
  /** The call's `x-rmm-via` marker, null for a plain call. Since 0011. */
  via: string | null;
}

export type JobStateName = "running" | "finished" | "cancelled";
export type StepStateName =
  "pending" | "running" | "succeeded" | "failed" | "error" | "timed_out" | "cancelled" | "expired";

export interface JobsTable {
  id: string;
  created_at: EpochMs;
  creator: string;
  role: string;
  selector: string;
  /** JSON array of the explicit agent ids. */
  agent_ids: string;
  /** ExecParams as protobuf JSON. */
  params: string;
  stdin: Uint8Array | null;
  concurrency: number;
  timeout_ms: number;
  expires_at: EpochMs;
  state: JobStateName;
  finished_at: EpochMs | null;
}

export interface JobStepsTable {
  job_id: string;
  agent_id: string;
  hostname: string;
  state: StepStateName;
  started_at: EpochMs | null;
  ended_at: EpochMs | null;
  exit_code: number | null;
  signal: string | null;
  reason: string | null;
  stdout_bytes: number;
  stderr_bytes: number;
  stdout_head: Uint8Array | null;
  stdout_tail: Uint8Array | null;
  stderr_head: Uint8Array | null;
  stderr_tail: Uint8Array | null;
  first_line: string | null;
  /** The cluster node that started it; null outside cluster mode (migration 0013). */
  node_id: string | null;
}

export type FileOperationName = "upload" | "download" | "stat" | "list" | "prepare_upload" | "make_directory";
/**
 * `running`: an Upload or Download under way (its row is written when it starts). `failed`: it was
 * still running when its server stopped (marked at the next start).
 */
export type FileTransferOutcome = "running" | "ok" | "refused" | "error" | "cancelled" | "failed";

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

/**
 * How a forwarded connection ended: `cancelled` when the technician's side ended it (Ctrl-C, a local reset);
 * `failed` covers connect failures, resets by the target and sessions closed under it (the message says which).
 */
export type ForwardOutcome = "completed" | "refused" | "failed" | "cancelled";

export interface ForwardAuditTable {
  id: Generated<number>;
  technician: string;
  role: string;
  agent_id: string;
  session_id: string;
  /** Null for a connection refused before a channel was opened. */
  channel_id: number | null;
  host: string;
  port: number;
  started_at: EpochMs;
  ended_at: EpochMs;
  outcome: ForwardOutcome;
  /** Bytes the technician sent toward the target. */
  bytes_to_target: number;
  /** Bytes the target sent back. */
  bytes_from_target: number;
  policy_rule: string | null;
  message: string | null;
}

export interface RevokedTokensTable {
  id: Generated<number>;
  revoked_at: EpochMs;
  /** One token, by its `jti`. */
  jti: string | null;
  /** With issued_before: every token of this subject issued before that time. */
  subject: string | null;
  issued_before: EpochMs | null;
  /** Who revoked it (`system user name` for the CLI). */
  revoked_by: string;
  reason: string | null;
}

/** One cluster node's lease (migration 0013): alive while expires_at is in the future. */
export interface ClusterNodesTable {
  id: string;
  /** Where other nodes and operators reach it (its listen URL), for diagnostics. */
  address: string;
  started_at: EpochMs;
  expires_at: EpochMs;
}

/** Which node holds each connected agent's stream (migration 0013); no row: offline. */
export interface AgentPresenceTable {
  agent_id: string;
  node_id: string;
  connected_at: EpochMs;
}

export interface Database {
  agents: AgentsTable;
  tunnel_sessions: TunnelSessionsTable;
  audit_events: AuditEventsTable;
  command_audit: CommandAuditTable;
  file_transfers: FileTransfersTable;
  forward_audit: ForwardAuditTable;
  revoked_tokens: RevokedTokensTable;
  jobs: JobsTable;
  job_steps: JobStepsTable;
  cluster_nodes: ClusterNodesTable;
  agent_presence: AgentPresenceTable;
}

export type Db = Kysely<Database>;
