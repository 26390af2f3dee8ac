import { sql, type Kysely } from "kysely";
import { isMysql } from "./dialect.js";

/**
 * Several technicians may hold a session on one agent at once: the database
 * now allows one live session per (agent, technician) instead of per agent,
 * so two servers racing for the same technician still cannot both win.
 * Sessions also record whether they were opened exclusive or ephemeral.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table tunnel_sessions add column exclusive smallint not null default 0`.execute(db);
  await sql`alter table tunnel_sessions add column ephemeral smallint not null default 0`.execute(db);
  if (isMysql(db)) {
    // live_agent_id (0001) holds agent_id only while the session is live; NULLs never collide.
    await sql`create unique index tunnel_sessions_one_live_per_technician
      on tunnel_sessions (live_agent_id, technician)`.execute(db);
    await sql`drop index tunnel_sessions_one_live_per_agent on tunnel_sessions`.execute(db);
  } else {
    await sql`create unique index tunnel_sessions_one_live_per_technician
      on tunnel_sessions (agent_id, technician) where state <> 'closed'`.execute(db);
    await sql`drop index tunnel_sessions_one_live_per_agent`.execute(db);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  // Fails (unique violation) while an agent holds sessions of two technicians: close them first.
  if (isMysql(db)) {
    await sql`create unique index tunnel_sessions_one_live_per_agent on tunnel_sessions (live_agent_id)`.execute(db);
    await sql`drop index tunnel_sessions_one_live_per_technician on tunnel_sessions`.execute(db);
  } else {
    await sql`create unique index tunnel_sessions_one_live_per_agent
      on tunnel_sessions (agent_id) where state <> 'closed'`.execute(db);
    await sql`drop index tunnel_sessions_one_live_per_technician`.execute(db);
  }
  await sql`alter table tunnel_sessions drop column ephemeral`.execute(db);
  await sql`alter table tunnel_sessions drop column exclusive`.execute(db);
}
