import type { Kysely } from "kysely";
import { isMysql } from "./dialect.js";

// One row per command or terminal a technician asked for, refused ones included.
export async function up(db: Kysely<unknown>): Promise<void> {
  const mysql = isMysql(db);
  await db.schema
    .createTable("command_audit")
    .addColumn("id", mysql ? "bigint" : "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("kind", "varchar(16)", (c) => c.notNull())
    .addColumn("technician", "varchar(255)", (c) => c.notNull())
    .addColumn("role", "varchar(32)", (c) => c.notNull())
    .addColumn("agent_id", "varchar(64)", (c) => c.notNull())
    .addColumn("session_id", "char(36)", (c) => c.notNull())
    .addColumn("channel_id", "integer")
    // JSON array of strings; terminals hold the shell alone.
    .addColumn("argv", "text", (c) => c.notNull())
    .addColumn("working_directory", "varchar(4096)", (c) => c.notNull().defaultTo(""))
    .addColumn("started_at", "bigint", (c) => c.notNull())
    .addColumn("ended_at", "bigint")
    .addColumn("outcome", "varchar(16)", (c) => c.notNull())
    .addColumn("exit_code", "integer")
    .addColumn("signal", "varchar(32)")
    .addColumn("stdout_bytes", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("stderr_bytes", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("policy_rule", "varchar(255)")
    .addColumn("recording_path", "varchar(4096)")
    .addColumn("message", "varchar(1024)")
    .execute();
  await db.schema.createIndex("command_audit_session").on("command_audit").column("session_id").execute();
  await db.schema.createIndex("command_audit_agent").on("command_audit").column("agent_id").execute();
  await db.schema.createIndex("command_audit_outcome").on("command_audit").column("outcome").execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("command_audit").execute();
}
