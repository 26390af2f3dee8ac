import { sql, type Selectable } from "kysely";
import type { CloseReasonName, Db, EpochMs, SessionStateName, TunnelSessionsTable } from "./database.js";
import { BatchedLookup } from "./batched-lookup.js";
import { isUniqueViolation } from "./store-errors.js";

export type SessionRow = Selectable<TunnelSessionsTable>;

/** The database refused a second live session for the same agent and technician. */
export class LiveSessionExistsError extends Error {
  constructor(
    readonly agentId: string,
    readonly technician: string,
    options?: ErrorOptions,
  ) {
    super(`${technician} already has a live session on agent ${agentId}`, options);
  }
}

/** close_message is varchar(1024); an agent's error text can be longer, and must not make the close fail. */
const MAX_CLOSE_MESSAGE = 1_024;

export interface CloseFields {
  reason: CloseReasonName;
  message: string;
  at: EpochMs;
  /** Who closed it, as the audit entry names actors; the 0005 trigger writes the entry. Defaults to `system`. */
  actor?: string;
  /** Defaults to `ok`. */
  outcome?: "ok" | "error";
}

export interface NewSession {
  id: string;
  agentId: string;
  technician: string;
  at: EpochMs;
  /** Defaults to false. */
  exclusive?: boolean;
  /** Defaults to false. */
  ephemeral?: boolean;
  /** The cluster node serving it; undefined outside cluster mode. */
  nodeId?: string;
}

/** The row a new session starts as, whichever way it was inserted. */
function openingRow(row: NewSession): SessionRow {
  return {
    id: row.id,
    agent_id: row.agentId,
    technician: row.technician,
    state: "opening",
    close_reason: null,
    close_message: null,
    opened_at: row.at,
    ready_at: null,
    closed_at: null,
    closed_by: null,
    close_outcome: null,
    exclusive: row.exclusive ? 1 : 0,
    ephemeral: row.ephemeral ? 1 : 0,
    node_id: row.nodeId ?? null,
  };
}

export class SessionStore {
  private readonly liveByAgent: BatchedLookup<string, string[]>;

  constructor(
    private readonly db: Db,
    /** The cluster node this server is: its sessions carry it. Undefined outside cluster mode. */
    readonly nodeId?: string,
  ) {
    this.liveByAgent = new BatchedLookup(async (agentIds) => {
      const rows = await this.db
        .selectFrom("tunnel_sessions")
        .select(["id", "agent_id"])
        .where("state", "<>", "closed")
        .where("agent_id", "in", agentIds)
        .execute();
      const out = new Map<string, string[]>();
      for (const r of rows) out.set(r.agent_id, [...(out.get(r.agent_id) ?? []), r.id]);
      return out;
    });
  }

  /** liveIds(agentId), sharing one statement with the other agents' asked meanwhile: for every agent connect. */
  async liveIdsOfAgent(agentId: string): Promise<string[]> {
    return (await this.liveByAgent.get(agentId)) ?? [];
  }

  /**
   * Inserts an `opening` session; the one-live-session-per-technician-and-agent
   * index decides races. Like every insert here, it gets its `tunnel.open` audit entry from
   * the 0004 trigger. The server opens sessions with createForActiveAgent.
   */
  async create(row: NewSession): Promise<SessionRow> {
    const session = openingRow(row);
    try {
      await this.db.insertInto("tunnel_sessions").values(session).execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw new LiveSessionExistsError(row.agentId, row.technician, { cause: err });
      throw err;
    }
    return session;
  }

  /**
   * Inserts an `opening` session if the agent is enrolled and not revoked, in
   * one statement; the migration 0004 trigger writes its `tunnel.open` audit
   * entry in that same statement. Undefined when the agent is unknown or
   * revoked (nothing written); LiveSessionExistsError when it already has a
   * live session (the one-live-session-per-technician-and-agent index decides races).
   */
  async createForActiveAgent(row: NewSession): Promise<SessionRow | undefined> {
    let inserted: bigint;
    try {
      const result = await this.db
        .insertInto("tunnel_sessions")
        .columns(["id", "agent_id", "technician", "state", "opened_at", "exclusive", "ephemeral", "node_id"])
        .expression(
          this.db
            .selectFrom("agents")
            .select([
              sql<string>`${row.id}`.as("id"),
              sql<string>`${row.agentId}`.as("agent_id"),
              sql<string>`${row.technician}`.as("technician"),
              sql<string>`${"opening"}`.as("state"),
              sql<number>`${row.at}`.as("opened_at"),
              sql<number>`${row.exclusive ? 1 : 0}`.as("exclusive"),
              sql<number>`${row.ephemeral ? 1 : 0}`.as("ephemeral"),
              sql<string | null>`${this.nodeId ?? null}`.as("node_id"),
            ])
            .where("agents.id", "=", row.agentId)
            .where("agents.revoked_at", "is", null),
        )
        .executeTakeFirst();
      inserted = result.numInsertedOrUpdatedRows ?? 0n;
    } catch (err) {
      if (isUniqueViolation(err)) throw new LiveSessionExistsError(row.agentId, row.technician, { cause: err });
      throw err;
    }
    return inserted === 0n ? undefined : openingRow({ ...row, nodeId: this.nodeId });
  }

  async get(id: string): Promise<SessionRow | undefined> {
    return this.db.selectFrom("tunnel_sessions").selectAll().where("id", "=", id).executeTakeFirst();
  }

  /** A live session on the agent: the technician's when one is named. */
  async liveForAgent(agentId: string, technician?: string): Promise<SessionRow | undefined> {
    let q = this.db
      .selectFrom("tunnel_sessions")
      .selectAll()
      .where("agent_id", "=", agentId)
      .where("state", "<>", "closed");
    if (technician !== undefined) q = q.where("technician", "=", technician);
    return q.executeTakeFirst();
  }

  /** An ephemeral session opened explicitly stays until closed. */
  async markExplicit(id: string): Promise<void> {
    await this.db.updateTable("tunnel_sessions").set({ ephemeral: 0 }).where("id", "=", id).execute();
  }

  /** Sessions matching every set filter, newest opened first, after the (opened_at, id) cursor when given. */
  async history(
    filter: { agentId?: string; technician?: string; state?: SessionStateName; sinceMs?: number; untilMs?: number },
    after: { openedAt: EpochMs; id: string } | undefined,
    limit: number,
  ): Promise<SessionRow[]> {
    let q = this.db.selectFrom("tunnel_sessions").selectAll();
    if (filter.agentId) q = q.where("agent_id", "=", filter.agentId);
    if (filter.technician) q = q.where("technician", "=", filter.technician);
    if (filter.state) q = q.where("state", "=", filter.state);
    if (filter.sinceMs !== undefined) q = q.where("opened_at", ">=", filter.sinceMs);
    if (filter.untilMs !== undefined) q = q.where("opened_at", "<", filter.untilMs);
    if (after)
      q = q.where((eb) =>
        eb.or([
          eb("opened_at", "<", after.openedAt),
          eb.and([eb("opened_at", "=", after.openedAt), eb("id", "<", after.id)]),
        ]),
      );
    return q.orderBy("opened_at", "desc").orderBy("id", "desc").limit(limit).execute();
  }

  async liveForAgents(agentIds: readonly string[]): Promise<SessionRow[]> {
    if (agentIds.length === 0) return [];
    return this.db
      .selectFrom("tunnel_sessions")
      .selectAll()
      .where("agent_id", "in", agentIds)
      .where("state", "<>", "closed")
      .execute();
  }

  /** opening -> active. False when the session is no longer opening (closed meanwhile). */
  async markActive(id: string, at: EpochMs): Promise<boolean> {
    const result = await this.db
      .updateTable("tunnel_sessions")
      .set({ state: "active", ready_at: at })
      .where("id", "=", id)
      .where("state", "=", "opening")
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Closes the given sessions that are still live, each with its `tunnel.close` audit entry; returns how many it closed. */
  async close(ids: readonly string[], fields: CloseFields): Promise<number> {
    if (ids.length === 0) return 0;
    const result = await this.db
      .updateTable("tunnel_sessions")
      .set({
        state: "closed",
        close_reason: fields.reason,
        close_message: fields.message.slice(0, MAX_CLOSE_MESSAGE),
        closed_at: fields.at,
        closed_by: fields.actor ?? "system",
        close_outcome: fields.outcome ?? "ok",
      })
      .where("id", "in", ids)
      .where("state", "<>", "closed")
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /** Ids of every live session, optionally only for one agent. */
  /** Live sessions this server is responsible for: in cluster mode its node's (opened by `openedBy`, if given), else every one. */
  async ownLiveIds(openedBy?: EpochMs): Promise<string[]> {
    if (this.nodeId === undefined) return this.liveIds();
    let q = this.db
      .selectFrom("tunnel_sessions")
      .select("id")
      .where("state", "<>", "closed")
      .where("node_id", "=", this.nodeId);
    if (openedBy !== undefined) q = q.where("opened_at", "<=", openedBy);
    const rows = await q.execute();
    return rows.map((r) => r.id);
  }

  async liveIds(agentId?: string): Promise<string[]> {
    let q = this.db.selectFrom("tunnel_sessions").select("id").where("state", "<>", "closed");
    if (agentId !== undefined) q = q.where("agent_id", "=", agentId);
    return (await q.execute()).map((r) => r.id);
  }
}
