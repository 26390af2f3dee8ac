import type { Kysely } from "kysely";

const TABLES = ["command_audit", "file_transfers", "audit_events"] as const;

/**
 * Each audit row says through what the call that wrote it was made: the
 * validated `x-rmm-via` marker (`mcp/<client>/<version>` when an MCP client
 * acted with the technician's token), null for a plain call. 200 characters
 * is the marker's limit (common/via-header.ts).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  for (const table of TABLES) await db.schema.alterTable(table).addColumn("via", "varchar(200)").execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of TABLES) await db.schema.alterTable(table).dropColumn("via").execute();
}
