import type { Kysely } from "kysely";
import { isMysql } from "./dialect.js";

/**
 * Several server nodes on one database (cluster mode). Each node holds a
 * lease it renews; a node whose lease expired is dead, and a survivor closes
 * what it left. Rows a node is responsible for carry its id: the sessions it
 * serves (commands and file transfers belong to their session's node) and the
 * job steps it runs. Null node ids are rows written by a server not in
 * cluster mode. `agent_presence` says which node holds each agent's stream.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("cluster_nodes")
    .addColumn("id", "varchar(64)", (c) => c.primaryKey())
    .addColumn("address", "varchar(255)", (c) => c.notNull())
    .addColumn("started_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createTable("agent_presence")
    .addColumn("agent_id", "varchar(64)", (c) => c.primaryKey())
    .addColumn("node_id", "varchar(64)", (c) => c.notNull())
    .addColumn("connected_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("agent_presence_node").on("agent_presence").column("node_id").execute();
  await db.schema.alterTable("tunnel_sessions").addColumn("node_id", "varchar(64)").execute();
  await db.schema.createIndex("tunnel_sessions_node").on("tunnel_sessions").column("node_id").execute();
  await db.schema.alterTable("job_steps").addColumn("node_id", "varchar(64)").execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("job_steps").dropColumn("node_id").execute();
  const drop = db.schema.dropIndex("tunnel_sessions_node");
  // MySQL names the table an index belongs to; SQLite has one namespace for indexes.
  await (isMysql(db) ? drop.on("tunnel_sessions") : drop).execute();
  await db.schema.alterTable("tunnel_sessions").dropColumn("node_id").execute();
  await db.schema.dropTable("agent_presence").execute();
  await db.schema.dropTable("cluster_nodes").execute();
}
