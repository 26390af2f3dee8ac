import { sql, type Kysely } from "kysely";
import { isMysql } from "./dialect.js";

/**
 * Agent labels (reported by the agent, set by admins), fleet jobs with one
 * step row per target agent, and the job id on the command audit trail.
 * (job_id, agent_id) is the steps' primary key: one step per agent per job,
 * whatever the servers do.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const mysql = isMysql(db);
  // MySQL's BLOB holds 65,535 bytes, one short of a 64 KiB head.
  const bytes = mysql ? sql`mediumblob` : sql`blob`;
  await db.schema.alterTable("agents").addColumn("reported_labels", "text").execute();
  await db.schema.alterTable("agents").addColumn("server_labels", "text").execute();
  await db.schema
    .createTable("jobs")
    .addColumn("id", "char(36)", (c) => c.primaryKey())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("creator", "varchar(255)", (c) => c.notNull())
    .addColumn("role", "varchar(32)", (c) => c.notNull())
    .addColumn("selector", "varchar(4096)", (c) => c.notNull())
    // JSON arrays of strings / the ExecParams as protobuf JSON.
    .addColumn("agent_ids", "text", (c) => c.notNull())
    .addColumn("params", "text", (c) => c.notNull())
    .addColumn("stdin", bytes)
    .addColumn("concurrency", "integer", (c) => c.notNull())
    .addColumn("timeout_ms", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("state", "varchar(16)", (c) => c.notNull())
    .addColumn("finished_at", "bigint")
    .execute();
  await db.schema.createIndex("jobs_created").on("jobs").columns(["created_at", "id"]).execute();
  await db.schema.createIndex("jobs_state").on("jobs").column("state").execute();
  await db.schema
    .createTable("job_steps")
    .addColumn("job_id", "char(36)", (c) => c.notNull())
    .addColumn("agent_id", "varchar(64)", (c) => c.notNull())
    .addColumn("hostname", "varchar(255)", (c) => c.notNull())
    .addColumn("state", "varchar(16)", (c) => c.notNull())
    .addColumn("started_at", "bigint")
    .addColumn("ended_at", "bigint")
    .addColumn("exit_code", "integer")
    .addColumn("signal", "varchar(32)")
    .addColumn("reason", "varchar(1024)")
    .addColumn("stdout_bytes", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("stderr_bytes", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("stdout_head", bytes)
    .addColumn("stdout_tail", bytes)
    .addColumn("stderr_head", bytes)
    .addColumn("stderr_tail", bytes)
    .addColumn("first_line", "varchar(255)")
    .addPrimaryKeyConstraint("job_steps_pk", ["job_id", "agent_id"])
    .execute();
  await db.schema.createIndex("job_steps_agent_state").on("job_steps").columns(["agent_id", "state"]).execute();
  await db.schema.createIndex("job_steps_state").on("job_steps").column("state").execute();
  await db.schema.alterTable("command_audit").addColumn("job_id", "char(36)").execute();
  await db.schema.createIndex("command_audit_job").on("command_audit").column("job_id").execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  // MySQL names the table of an index; SQLite has no such clause.
  const index = db.schema.dropIndex("command_audit_job");
  await (isMysql(db) ? index.on("command_audit") : index).execute();
  await db.schema.alterTable("command_audit").dropColumn("job_id").execute();
  await db.schema.dropTable("job_steps").execute();
  await db.schema.dropTable("jobs").execute();
  await db.schema.alterTable("agents").dropColumn("server_labels").execute();
  await db.schema.alterTable("agents").dropColumn("reported_labels").execute();
}
