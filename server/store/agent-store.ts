import type { Insertable, Selectable } from "kysely";
import { labelsJson, type Labels } from "../../common/labels.js";
import { BatchedLookup } from "./batched-lookup.js";
import type { AgentsTable, Db, EpochMs } from "./database.js";

export type AgentRow = Selectable<AgentsTable>;

export interface AgentInfoFields {
  hostname: string;
  os: string;
  agentVersion: string;
  capabilities: number[];
  /** What the agent reports in hello. */
  labels: Labels;
}

/** MySQL caps placeholders per statement; batches stay well under it. */
const IN_LIST_CHUNK = 1_000;

export class AgentStore {
  private readonly lookups: BatchedLookup<string, AgentRow>;

  constructor(private readonly db: Db) {
    this.lookups = new BatchedLookup(async (ids) => {
      const rows = await this.db.selectFrom("agents").selectAll().where("id", "in", ids).execute();
      return new Map(rows.map((r) => [r.id, r]));
    });
  }

  async insert(row: Insertable<AgentsTable>): Promise<void> {
    await this.db.insertInto("agents").values(row).execute();
  }

  async get(id: string): Promise<AgentRow | undefined> {
    return this.db.selectFrom("agents").selectAll().where("id", "=", id).executeTakeFirst();
  }

  /** get(), sharing one statement with the other lookups made meanwhile: for every agent connect. */
  lookup(id: string): Promise<AgentRow | undefined> {
    return this.lookups.get(id);
  }

  /** Agents in id order after `afterId`, optionally only those in `ids`. */
  async list(opts: { afterId: string; limit: number; ids?: readonly string[] }): Promise<AgentRow[]> {
    if (opts.ids !== undefined && opts.ids.length === 0) return [];
    let q = this.db.selectFrom("agents").selectAll().where("id", ">", opts.afterId);
    if (opts.ids !== undefined) q = q.where("id", "in", opts.ids);
    return q.orderBy("id").limit(opts.limit).execute();
  }

  async updateInfo(id: string, info: AgentInfoFields): Promise<void> {
    await this.db
      .updateTable("agents")
      .set({
        hostname: info.hostname,
        os: info.os,
        agent_version: info.agentVersion,
        capabilities: JSON.stringify(info.capabilities),
        reported_labels: labelsJson(info.labels),
      })
      .where("id", "=", id)
      .execute();
  }

  async setServerLabels(id: string, labels: Labels): Promise<void> {
    await this.db
      .updateTable("agents")
      .set({ server_labels: labelsJson(labels) })
      .where("id", "=", id)
      .execute();
  }

  /** One statement per thousand agents: heartbeats arrive in batches, not one write each. */
  async touchLastSeen(ids: readonly string[], at: EpochMs): Promise<void> {
    for (let i = 0; i < ids.length; i += IN_LIST_CHUNK) {
      const chunk = ids.slice(i, i + IN_LIST_CHUNK);
      await this.db.updateTable("agents").set({ last_seen_at: at }).where("id", "in", chunk).execute();
    }
  }

  /** Which of these agents have been revoked. */
  async revokedAmong(ids: readonly string[]): Promise<string[]> {
    const revoked: string[] = [];
    for (let i = 0; i < ids.length; i += IN_LIST_CHUNK) {
      const rows = await this.db
        .selectFrom("agents")
        .select("id")
        .where("id", "in", ids.slice(i, i + IN_LIST_CHUNK))
        .where("revoked_at", "is not", null)
        .execute();
      revoked.push(...rows.map((r) => r.id));
    }
    return revoked;
  }

  /** Deletes the agent's row (its sessions go with it, ON DELETE CASCADE); false when there was none. */
  async delete(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom("agents").where("id", "=", id).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  /** Returns false when no such agent exists. */
  async revoke(id: string, at: EpochMs): Promise<boolean> {
    const result = await this.db
      .updateTable("agents")
      .set({ revoked_at: at })
      .where("id", "=", id)
      .where("revoked_at", "is", null)
      .executeTakeFirst();
    if (result.numUpdatedRows > 0n) return true;
    return (await this.get(id)) !== undefined;
  }
}

export function parseCapabilities(raw: string): number[] {
  const parsed: unknown = JSON.parse(raw);
  if (!Array.isArray(parsed)) return [];
  // JSON.parse's own array is exactly its length; filter's result keeps room to grow, and a live agent's stays held.
  const numbers = parsed.filter((v): v is number => typeof v === "number");
  return numbers.length === parsed.length ? (parsed as number[]) : numbers.slice();
}
