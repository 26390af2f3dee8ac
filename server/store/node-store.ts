import { sql } from "kysely";
import type { Db, EpochMs } from "./database.js";

/** One agent stream as agent_presence records it on its node. */
export interface PlacedStream {
  agentId: string;
  connectedAt: EpochMs;
}

/** Rows per statement when placement is written in batches: a few dozen KiB of SQL. */
const PLACEMENT_CHUNK = 500;

/** One node's lease as stored. */
export interface NodeLeaseRow {
  id: string;
  address: string;
  started_at: EpochMs;
  expires_at: EpochMs;
}

/**
 * Cluster nodes' leases and which node holds each agent's stream
 * (migration 0013). MySQL only: cluster mode refuses SQLite, whose file
 * cannot be shared by nodes on several hosts.
 */
export class NodeStore {
  constructor(private readonly db: Db) {}

  /** The database server's clock: the one time base of every node's lease (see ClusterClock). */
  async databaseNow(): Promise<EpochMs> {
    const { rows } = await sql<{ now: string | number }>`SELECT ROUND(UNIX_TIMESTAMP(NOW(3)) * 1000) AS now`.execute(
      this.db,
    );
    return Number(rows[0]!.now);
  }

  /**
   * Writes or extends the node's lease. True when there was no row to extend:
   * the first lease, or one a reaper dropped (after closing what the node held).
   */
  async renew(lease: NodeLeaseRow): Promise<boolean> {
    const r = await this.db
      .insertInto("cluster_nodes")
      .values(lease)
      .onDuplicateKeyUpdate({ address: lease.address, started_at: lease.started_at, expires_at: lease.expires_at })
      .executeTakeFirst();
    // MySQL counts an insert as one row and an update of an existing row as two.
    return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  async get(id: string): Promise<NodeLeaseRow | undefined> {
    return this.db.selectFrom("cluster_nodes").selectAll().where("id", "=", id).executeTakeFirst();
  }

  /** Every lease, live or expired. */
  async all(): Promise<NodeLeaseRow[]> {
    return this.db.selectFrom("cluster_nodes").selectAll().orderBy("id").execute();
  }

  /** Nodes whose lease had expired at `now`. */
  async expired(now: EpochMs): Promise<string[]> {
    const rows = await this.db.selectFrom("cluster_nodes").select("id").where("expires_at", "<", now).execute();
    return rows.map((r) => r.id);
  }

  /**
   * Node ids that rows still name as responsible (live sessions, running job
   * steps) but that hold no lease at all: a node removed, or one whose reaper
   * was cut short after dropping the lease. Null ids are not included.
   */
  async unleasedOwners(): Promise<string[]> {
    const sessions = await this.db
      .selectFrom("tunnel_sessions")
      .select("node_id")
      .distinct()
      .where("state", "<>", "closed")
      .where("node_id", "is not", null)
      .where("node_id", "not in", (q) => q.selectFrom("cluster_nodes").select("cluster_nodes.id"))
      .execute();
    const steps = await this.db
      .selectFrom("job_steps")
      .select("node_id")
      .distinct()
      .where("state", "=", "running")
      .where("node_id", "is not", null)
      .where("node_id", "not in", (q) => q.selectFrom("cluster_nodes").select("cluster_nodes.id"))
      .execute();
    return [...new Set([...sessions, ...steps].map((r) => r.node_id!))];
  }

  /** Drops a node's lease and its agents' presence (after its leftovers were closed). */
  async forget(id: string): Promise<void> {
    await this.db.deleteFrom("agent_presence").where("node_id", "=", id).execute();
    await this.db.deleteFrom("cluster_nodes").where("id", "=", id).execute();
  }

  /** The node now holds the agent's stream (a newer stream on another node takes the row over). */
  async placeAgent(agentId: string, nodeId: string, at: EpochMs): Promise<void> {
    await this.placeAgents([{ agentId, connectedAt: at }], nodeId);
  }

  /** placeAgent for many agents in one statement per PLACEMENT_CHUNK rows. */
  async placeAgents(streams: readonly PlacedStream[], nodeId: string): Promise<void> {
    for (let i = 0; i < streams.length; i += PLACEMENT_CHUNK)
      await this.db
        .insertInto("agent_presence")
        .values(
          streams
            .slice(i, i + PLACEMENT_CHUNK)
            .map((s) => ({ agent_id: s.agentId, node_id: nodeId, connected_at: s.connectedAt })),
        )
        .onDuplicateKeyUpdate({ node_id: sql`VALUES(node_id)`, connected_at: sql`VALUES(connected_at)` })
        .execute();
  }

  /** The agent's stream on this node ended; a row another node wrote since is left alone. */
  async unplaceAgent(agentId: string, nodeId: string, connectedAt: EpochMs): Promise<void> {
    await this.unplaceAgents([{ agentId, connectedAt }], nodeId);
  }

  /** unplaceAgent for many agents in one statement per PLACEMENT_CHUNK rows. */
  async unplaceAgents(streams: readonly PlacedStream[], nodeId: string): Promise<void> {
    for (let i = 0; i < streams.length; i += PLACEMENT_CHUNK) {
      const chunk = streams.slice(i, i + PLACEMENT_CHUNK);
      await this.db
        .deleteFrom("agent_presence")
        .where("node_id", "=", nodeId)
        .where(
          "agent_id",
          "in",
          chunk.map((s) => s.agentId),
        )
        .where((eb) =>
          eb.or(chunk.map((s) => eb.and([eb("agent_id", "=", s.agentId), eb("connected_at", "<=", s.connectedAt)]))),
        )
        .execute();
    }
  }

  /** The node holding the agent's stream, if its lease is live at `now`. */
  async holderOf(agentId: string, now: EpochMs): Promise<string | undefined> {
    const row = await this.db
      .selectFrom("agent_presence")
      .innerJoin("cluster_nodes", "cluster_nodes.id", "agent_presence.node_id")
      .select("agent_presence.node_id")
      .where("agent_presence.agent_id", "=", agentId)
      .where("cluster_nodes.expires_at", ">=", now)
      .executeTakeFirst();
    return row?.node_id;
  }

  /** Of these agents, those whose stream a live node holds, with the node. */
  async holders(agentIds: readonly string[], now: EpochMs): Promise<Map<string, string>> {
    if (agentIds.length === 0) return new Map();
    const rows = await this.db
      .selectFrom("agent_presence")
      .innerJoin("cluster_nodes", "cluster_nodes.id", "agent_presence.node_id")
      .select(["agent_presence.agent_id", "agent_presence.node_id"])
      .where("agent_presence.agent_id", "in", agentIds)
      .where("cluster_nodes.expires_at", ">=", now)
      .execute();
    return new Map(rows.map((r) => [r.agent_id, r.node_id]));
  }

  /** Agents whose stream a live node holds, in id order after `afterId`. */
  async onlineAfter(afterId: string, limit: number, now: EpochMs): Promise<string[]> {
    const rows = await this.db
      .selectFrom("agent_presence")
      .innerJoin("cluster_nodes", "cluster_nodes.id", "agent_presence.node_id")
      .select("agent_presence.agent_id")
      .where("agent_presence.agent_id", ">", afterId)
      .where("cluster_nodes.expires_at", ">=", now)
      .orderBy("agent_presence.agent_id")
      .limit(limit)
      .execute();
    return rows.map((r) => r.agent_id);
  }
}
