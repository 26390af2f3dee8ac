import { sql, type Kysely } from "kysely";
import { isMysql } from "./dialect.js";

// Migrations take Kysely<unknown>: they must not depend on today's Database
// type, which changes as later migrations land.
export async function up(db: Kysely<unknown>): Promise<void> {
  const mysql = isMysql(db);

  await db.schema
    .createTable("agents")
    .addColumn("id", "varchar(64)", (c) => c.primaryKey())
    .addColumn("hostname", "varchar(255)", (c) => c.notNull())
    .addColumn("os", "varchar(255)", (c) => c.notNull().defaultTo(""))
    .addColumn("agent_version", "varchar(64)", (c) => c.notNull().defaultTo(""))
    .addColumn("capabilities", "varchar(1024)", (c) => c.notNull().defaultTo("[]"))
    .addColumn("credential_hash", "char(64)", (c) => c.notNull())
    .addColumn("enrolled_at", "bigint", (c) => c.notNull())
    .addColumn("last_seen_at", "bigint")
    .addColumn("revoked_at", "bigint")
    .execute();

  let sessions = db.schema
    .createTable("tunnel_sessions")
    .addColumn("id", "char(36)", (c) => c.primaryKey())
    .addColumn("agent_id", "varchar(64)", (c) => c.notNull().references("agents.id").onDelete("cascade"))
    .addColumn("technician", "varchar(255)", (c) => c.notNull())
    .addColumn("state", "varchar(16)", (c) => c.notNull())
    .addColumn("close_reason", "varchar(32)")
    .addColumn("close_message", "varchar(1024)")
    .addColumn("opened_at", "bigint", (c) => c.notNull())
    .addColumn("ready_at", "bigint")
    .addColumn("closed_at", "bigint")
    .addCheckConstraint("tunnel_sessions_state_check", sql`state in ('opening', 'active', 'closed')`);
  if (mysql) {
    // MySQL has no partial index. A generated column that holds agent_id only
    // while the session is live, under a unique index, lets the database itself
    // refuse a second live session even when two servers race (NULLs never collide).
    sessions = sessions.addColumn("live_agent_id", "varchar(64)", (c) =>
      c.generatedAlwaysAs(sql`case when state <> 'closed' then agent_id end`).stored(),
    );
  }
  await sessions.execute();

  if (mysql) {
    await db.schema
      .createIndex("tunnel_sessions_one_live_per_agent")
      .on("tunnel_sessions")
      .column("live_agent_id")
      .unique()
      .execute();
  } else {
    await db.schema
      .createIndex("tunnel_sessions_one_live_per_agent")
      .on("tunnel_sessions")
      .column("agent_id")
      .unique()
      .where(sql.ref("state"), "<>", "closed")
      .execute();
  }
  await db.schema.createIndex("tunnel_sessions_agent").on("tunnel_sessions").column("agent_id").execute();
  await db.schema.createIndex("tunnel_sessions_state").on("tunnel_sessions").column("state").execute();

  await db.schema
    .createTable("audit_events")
    .addColumn("id", mysql ? "bigint" : "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("at", "bigint", (c) => c.notNull())
    .addColumn("actor", "varchar(255)", (c) => c.notNull())
    .addColumn("action", "varchar(64)", (c) => c.notNull())
    .addColumn("agent_id", "varchar(64)")
    .addColumn("session_id", "char(36)")
    .addColumn("outcome", "varchar(16)", (c) => c.notNull())
    .addColumn("reason", "varchar(1024)")
    .execute();
  await db.schema.createIndex("audit_events_session").on("audit_events").column("session_id").execute();
  await db.schema.createIndex("audit_events_agent").on("audit_events").column("agent_id").execute();
  await db.schema.createIndex("audit_events_at").on("audit_events").column("at").execute();

  // Append-only is enforced by the database, not just by our code, so the
  // trail holds even against a bug or a hand-run UPDATE.
  for (const op of ["update", "delete"] as const) {
    if (mysql) {
      await sql`create trigger ${sql.raw(`audit_events_no_${op}`)} before ${sql.raw(op)} on audit_events
        for each row signal sqlstate '45000' set message_text = 'audit_events is append-only'`.execute(db);
    } else {
      await sql`create trigger ${sql.raw(`audit_events_no_${op}`)} before ${sql.raw(op)} on audit_events
        begin select raise(abort, 'audit_events is append-only'); end`.execute(db);
    }
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("audit_events").execute();
  await db.schema.dropTable("tunnel_sessions").execute();
  await db.schema.dropTable("agents").execute();
}
