import type { Kysely } from "kysely";
import { isMysql } from "./dialect.js";

/**
 * The port forwarding audit trail: one row per forwarded TCP connection
 * (and per refused one), written when it ends with its bytes each way. Its
 * own table rather than command_audit: a connection has a target and two
 * byte counts, not an argv, an exit status or a recording.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const mysql = isMysql(db);
  await db.schema
    .createTable("forward_audit")
    .addColumn("id", mysql ? "bigint" : "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("technician", "varchar(255)", (c) => c.notNull())
    .addColumn("role", "varchar(32)", (c) => c.notNull())
    .addColumn("agent_id", "varchar(64)", (c) => c.notNull())
    .addColumn("session_id", "char(36)", (c) => c.notNull())
    .addColumn("channel_id", "integer")
    .addColumn("host", "varchar(255)", (c) => c.notNull())
    .addColumn("port", "integer", (c) => c.notNull())
    .addColumn("started_at", "bigint", (c) => c.notNull())
    .addColumn("ended_at", "bigint", (c) => c.notNull())
    .addColumn("outcome", "varchar(16)", (c) => c.notNull())
    .addColumn("bytes_to_target", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("bytes_from_target", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("policy_rule", "varchar(255)")
    .addColumn("message", "varchar(1024)")
    .execute();
  await db.schema.createIndex("forward_audit_session").on("forward_audit").column("session_id").execute();
  await db.schema.createIndex("forward_audit_agent").on("forward_audit").column("agent_id").execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("forward_audit").execute();
}
