import type { Insertable, Selectable } from "kysely";
import type { Db, EpochMs, RevokedTokensTable } from "./database.js";

export type RevokedTokenRow = Selectable<RevokedTokensTable>;

/** Append-only, like the audit trail: a revocation is never taken back. */
export class RevokedTokenStore {
  constructor(private readonly db: Db) {}

  async add(row: Insertable<RevokedTokensTable>): Promise<void> {
    await this.db.insertInto("revoked_tokens").values(row).execute();
  }

  /** Revocations that can still matter: made at or after `since`, or covering tokens issued after it. */
  async relevantSince(since: EpochMs): Promise<RevokedTokenRow[]> {
    return this.db
      .selectFrom("revoked_tokens")
      .selectAll()
      .where((eb) => eb.or([eb("revoked_at", ">=", since), eb("issued_before", ">=", since)]))
      .execute();
  }
}
