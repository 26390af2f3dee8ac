import { MysqlAdapter, type Kysely } from "kysely";

/** Migrations branch on dialect where MySQL and SQLite differ (partial indexes, triggers). */
export function isMysql(db: Kysely<unknown>): boolean {
  return db.getExecutor().adapter instanceof MysqlAdapter;
}
