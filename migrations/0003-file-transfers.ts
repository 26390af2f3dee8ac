import type { Kysely } from "kysely";
import { isMysql } from "./dialect.js";

/** The file transfer audit trail: one row per Upload or Download call, and per refused file request. */
export async function up(db: Kysely<unknown>): Promise<void> {
  const mysql = isMysql(db);
  await db.schema
    .createTable("file_transfers")
    .addColumn("id", mysql ? "bigint" : "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("at", "bigint", (c) => c.notNull())
    .addColumn("technician", "varchar(255)", (c) => c.notNull())
    .addColumn("agent_id", "varchar(64)", (c) => c.notNull())
    .addColumn("session_id", "char(36)", (c) => c.notNull())
    .addColumn("operation", "varchar(16)", (c) => c.notNull())
    .addColumn("path", "varchar(4096)", (c) => c.notNull())
    .addColumn("size", "bigint")
    .addColumn("bytes_transferred", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("resumed_from", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("sha256", "char(64)")
    .addColumn("outcome", "varchar(16)", (c) => c.notNull())
    .addColumn("reason", "varchar(1024)")
    .execute();
  await db.schema.createIndex("file_transfers_session").on("file_transfers").column("session_id").execute();
  await db.schema.createIndex("file_transfers_agent").on("file_transfers").column("agent_id").execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("file_transfers").execute();
}
