import type { Kysely } from "kysely";
import { isMysql } from "./dialect.js";

/**
 * Technician token revocations: one token by its `jti`, or every token of a
 * subject issued before a time. Rows are only added; the server reads those
 * young enough to matter (tokens live at most --max-token-ttl).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("revoked_tokens")
    .addColumn("id", isMysql(db) ? "bigint" : "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("revoked_at", "bigint", (c) => c.notNull())
    /** Set for one token. */
    .addColumn("jti", "varchar(255)")
    /** With `issued_before`: every token of this subject issued before then. */
    .addColumn("subject", "varchar(255)")
    .addColumn("issued_before", "bigint")
    .addColumn("revoked_by", "varchar(255)", (c) => c.notNull())
    .addColumn("reason", "varchar(1024)")
    .execute();
  await db.schema.createIndex("revoked_tokens_revoked_at").on("revoked_tokens").column("revoked_at").execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("revoked_tokens").execute();
}
