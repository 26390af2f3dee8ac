import { sql, type Kysely } from "kysely";
import { isMysql } from "./dialect.js";

/**
 * The `tunnel.open` audit entry is written by the database, in the same
 * statement that records the session: OpenTunnel then costs one round trip
 * for both (no transaction of four), and the row and its entry still never
 * exist one without the other. The actor must read as the server's
 * `actorOf.technician` does (`tech:<subject>`).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  if (isMysql(db)) {
    await sql`create trigger tunnel_sessions_open_audit after insert on tunnel_sessions for each row
      insert into audit_events (at, actor, action, outcome, agent_id, session_id, reason)
      values (new.opened_at, concat('tech:', new.technician), 'tunnel.open', 'ok', new.agent_id, new.id, 'requested')`.execute(
      db,
    );
  } else {
    await sql`create trigger tunnel_sessions_open_audit after insert on tunnel_sessions for each row begin
      insert into audit_events (at, actor, action, outcome, agent_id, session_id, reason)
      values (new.opened_at, 'tech:' || new.technician, 'tunnel.open', 'ok', new.agent_id, new.id, 'requested');
      end`.execute(db);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop trigger tunnel_sessions_open_audit`.execute(db);
}
