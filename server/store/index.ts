export type {
  Database,
  Db,
  EpochMs,
  CloseReasonName,
  SessionStateName,
  AuditOutcome,
  CommandKind,
  CommandOutcome,
  FileOperationName,
  FileTransferOutcome,
  ForwardOutcome,
  JobStateName,
  StepStateName,
} from "./database.js";
export { openDatabase, openPoolConnections, parseDatabaseUrl, type DatabaseUrl } from "./open-database.js";
export type { QueryObserver } from "./query-observer.js";
export { migrateToLatest, migrateTo, migrateAllDown, migrationNames, pendingMigrations } from "./migrate.js";
export { AgentStore, parseCapabilities, type AgentRow, type AgentInfoFields } from "./agent-store.js";
export { SessionStore, LiveSessionExistsError, type SessionRow, type CloseFields } from "./session-store.js";
export { AuditStore, type AuditEvent, type AuditFilter, type AuditRow } from "./audit-store.js";
export { isUniqueViolation, isStoreUnavailable } from "./store-errors.js";
export { CommandAuditStore, type CommandStart, type CommandEnd, type CommandAuditRow } from "./command-audit-store.js";
export { RecordingStore, type RecordingFilter, type RecordingRow } from "./recording-store.js";
export { FileTransferStore, type FileTransferEvent, type FileTransferRow } from "./file-transfer-store.js";
export { ForwardAuditStore, type ForwardAuditEntry, type ForwardAuditRow } from "./forward-audit-store.js";
export { RevokedTokenStore, type RevokedTokenRow } from "./revoked-token-store.js";
export {
  JobStore,
  type JobRow,
  type JobStepRow,
  type JobStepSummary,
  type StepEnd,
  type StepClaim,
  type StepCounts,
} from "./job-store.js";
export { NodeStore, type NodeLeaseRow, type PlacedStream } from "./node-store.js";
