import type { Migration } from "kysely";
import * as initial from "./0001-initial.js";
import * as commandAudit from "./0002-command-audit.js";
import * as fileTransfers from "./0003-file-transfers.js";
import * as sessionOpenAudit from "./0004-session-open-audit.js";
import * as sessionCloseAudit from "./0005-session-close-audit.js";
import * as sessionPerTechnician from "./0006-session-per-technician.js";
import * as revokedTokens from "./0007-revoked-tokens.js";
import * as jobs from "./0008-jobs.js";
import * as forwardAudit from "./0009-forward-audit.js";
import * as auditVia from "./0011-audit-via.js";
import * as clusterNodes from "./0013-cluster-nodes.js";

/**
 * Every migration ever released, in order. Never edit or remove one that has
 * shipped: databases migrated by older versions must move forward cleanly.
 * Names sort lexically, which is the order kysely's Migrator applies them in.
 */
export const migrations: Readonly<Record<string, Migration>> = {
  "0001-initial": initial,
  "0002-command-audit": commandAudit,
  "0003-file-transfers": fileTransfers,
  "0004-session-open-audit": sessionOpenAudit,
  "0005-session-close-audit": sessionCloseAudit,
  "0006-session-per-technician": sessionPerTechnician,
  "0007-revoked-tokens": revokedTokens,
  "0008-jobs": jobs,
  "0009-forward-audit": forwardAudit,
  "0011-audit-via": auditVia,
  "0013-cluster-nodes": clusterNodes,
};
