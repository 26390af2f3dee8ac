import type { SqliteDatabase, SqliteStatement } from "kysely";

/**
 * Statements kept prepared. The hot queries (last-seen batches, session open
 * and close, agent lookups) are a few dozen distinct SQL strings; batches
 * with `in (?, ?, ...)` lists add one per list length, hence the margin.
 * Defaults to 256.
 */
export const MAX_CACHED_STATEMENTS = 256;

/**
 * A better-sqlite3 database as kysely's SqliteDialect sees it, except that
 * `prepare` returns the statement prepared last time for the same SQL.
 * kysely prepares on every query, and compiling the SQL costs about as much
 * as running a small indexed query. Reuse is safe: kysely runs one query at
 * a time on its one SQLite connection, and SQLite re-prepares a statement
 * by itself when a migration changes the schema under it.
 */
export function withCachedStatements(db: SqliteDatabase, max = MAX_CACHED_STATEMENTS): SqliteDatabase {
  // A Map iterates in insertion order; re-inserting on use makes its first key the least recently used.
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => {
      cache.clear();
      db.close();
    },
    prepare: (sql) => {
      let stmt = cache.get(sql);
      if (stmt) {
        cache.delete(sql);
      } else {
        stmt = db.prepare(sql);
        if (cache.size >= max) cache.delete(cache.keys().next().value!);
      }
      cache.set(sql, stmt);
      return stmt;
    },
  };
}
