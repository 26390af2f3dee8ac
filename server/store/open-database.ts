import { closeSync, mkdirSync, openSync } from "node:fs";
import { dirname, resolve } from "node:path";
import SQLite from "better-sqlite3";
import { Kysely, SqliteDialect, sql } from "kysely";
import { createPool } from "mysql2";
import { withCachedStatements } from "./cached-statements.js";
import type { Database, Db } from "./database.js";
import { queryLogHook, type QueryObserver } from "./query-observer.js";
import { TableNamesMysqlDialect } from "./table-names-dialect.js";

export type DatabaseUrl = { kind: "sqlite"; path: string } | { kind: "mysql"; url: string; redacted: string };

/**
 * Parses `sqlite:PATH` (`sqlite::memory:` for a throwaway store) or
 * `mysql://user:pass@host:port/db`. Anything else is a configuration error
 * that names the accepted forms.
 */
export function parseDatabaseUrl(raw: string): DatabaseUrl {
  if (raw.startsWith("sqlite:")) {
    const path = raw.slice("sqlite:".length);
    if (path === "") throw new Error(`database URL "${raw}" names no file: use sqlite:PATH`);
    return { kind: "sqlite", path: path === ":memory:" ? path : resolve(path) };
  }
  if (raw.startsWith("mysql://") || raw.startsWith("mariadb://")) {
    const url = new URL(raw.replace(/^mariadb:/, "mysql:"));
    if (url.pathname.length <= 1)
      throw new Error(`database URL "${redact(url)}" names no database: use mysql://user:pass@host:port/db`);
    return { kind: "mysql", url: url.toString(), redacted: redact(url) };
  }
  throw new Error(
    `unsupported database URL "${raw.split("@").pop()}": use sqlite:PATH or mysql://user:pass@host:port/db`,
  );
}

function redact(url: URL): string {
  const copy = new URL(url);
  if (copy.password) copy.password = "***";
  return copy.toString();
}

/** How long a MySQL connect may take before the call fails as Unavailable. Defaults to 5 s. */
const MYSQL_CONNECT_TIMEOUT_MS = 5_000;
/** Pool size: a few connections serve thousands of agents because heartbeats are batched. */
const MYSQL_POOL_SIZE = 10;

/**
 * Opens every connection of a MySQL pool now (SQLite has nothing to open).
 * A pool opens connections as statements queue up, which in a connect storm is
 * when the event loop is slowest: handshakes then outlast MYSQL_CONNECT_TIMEOUT_MS
 * and the agents' connects fail as "database unavailable" (hundreds at 10,000 agents).
 */
export async function openPoolConnections(db: Db, url: DatabaseUrl, poolSize = MYSQL_POOL_SIZE): Promise<void> {
  if (url.kind !== "mysql") return;
  // Concurrent statements each take a connection of their own.
  await Promise.all(Array.from({ length: poolSize }, () => sql`select 1`.execute(db)));
}

/**
 * `observer`, when given, hears of every statement's duration and failure (the server's metrics).
 * `poolSize` caps a MySQL pool's connections (MYSQL_POOL_SIZE unless given); SQLite has one.
 */
export function openDatabase(url: DatabaseUrl, observer?: QueryObserver, poolSize = MYSQL_POOL_SIZE): Db {
  const log = observer ? queryLogHook(observer) : undefined;
  if (url.kind === "sqlite") {
    if (url.path !== ":memory:") {
      mkdirSync(dirname(url.path), { recursive: true, mode: 0o700 });
      // Created 0600 before SQLite opens it: SQLite gives its -wal and -shm files the database file's mode.
      closeSync(openSync(url.path, "a", 0o600));
    }
    const sqlite = new SQLite(url.path);
    sqlite.pragma("journal_mode = WAL");
    sqlite.pragma("synchronous = NORMAL");
    // SQLite leaves foreign keys (and so ON DELETE CASCADE) off unless asked.
    sqlite.pragma("foreign_keys = ON");
    sqlite.pragma("busy_timeout = 5000");
    return new Kysely<Database>({ dialect: new SqliteDialect({ database: withCachedStatements(sqlite) }), log });
  }
  const pool = createPool({
    uri: url.url,
    connectionLimit: poolSize,
    connectTimeout: MYSQL_CONNECT_TIMEOUT_MS,
    // Epoch-millisecond BIGINTs fit a double exactly; numbers keep one row type for both dialects.
    supportBigNumbers: false,
    enableKeepAlive: true,
  });
  return new Kysely<Database>({ dialect: new TableNamesMysqlDialect({ pool }), log });
}
