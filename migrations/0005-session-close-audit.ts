import { sql, type Kysely } from "kysely";
import { isMysql } from "./dialect.js";

/**
 * The `tunnel.close` audit entry, like the `tunnel.open` one (0004), is
 * written by the database in the statement that closes the session: a close
 * costs one statement however many sessions it ends, and a closed row never
 * lacks its entry. The session row keeps who closed it and how it went,
 * which the trigger copies into the entry.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table tunnel_sessions add column closed_by varchar(255)`.execute(db);
  await sql`alter table tunnel_sessions add column close_outcome varchar(16)`.execute(db);
  if (isMysql(db)) {
    await sql`create trigger tunnel_sessions_close_audit after update on tunnel_sessions for each row
      begin
        if old.state <> 'closed' and new.state = 'closed' then
          insert into audit_events (at, actor, action, outcome, agent_id, session_id, reason)
          values (new.closed_at, coalesce(new.closed_by, 'system'), 'tunnel.close', coalesce(new.close_outcome, 'ok'), new.agent_id, new.id,
            left(concat(new.close_reason, ': ', coalesce(new.close_message, '')), 1000));
        end if;
      end`.execute(db);
  } else {
    await sql`create trigger tunnel_sessions_close_audit after update of state on tunnel_sessions for each row
      when old.state <> 'closed' and new.state = 'closed' begin
      insert into audit_events (at, actor, action, outcome, agent_id, session_id, reason)
      values (new.closed_at, coalesce(new.closed_by, 'system'), 'tunnel.close', coalesce(new.close_outcome, 'ok'), new.agent_id, new.id,
        substr(new.close_reason || ': ' || coalesce(new.close_message, ''), 1, 1000));
      end`.execute(db);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop trigger tunnel_sessions_close_audit`.execute(db);
  await sql`alter table tunnel_sessions drop column close_outcome`.execute(db);
  await sql`alter table tunnel_sessions drop column closed_by`.execute(db);
}
