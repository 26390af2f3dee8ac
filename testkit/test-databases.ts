import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createConnection } from "mysql2/promise";

/** Both stores every integration suite runs against. */
export const DIALECTS = ["sqlite", "mysql"] as const;
export type Dialect = (typeof DIALECTS)[number];

/** The project's MariaDB (see scripts/ensure-mariadb.sh); override for another server. */
const MYSQL_SERVER_URL = process.env.RMM_TEST_MYSQL_URL ?? "mysql://root@127.0.0.1:3306";

export interface TestDatabase {
  dialect: Dialect;
  /** A URL the server's --db flag accepts. */
  url: string;
  /** Drops the database (MySQL) or deletes the file (SQLite). */
  drop(): Promise<void>;
}

/** A fresh, uniquely named database per call, so parallel suites never share state. */
export async function createTestDatabase(dialect: Dialect): Promise<TestDatabase> {
  if (dialect === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "rmm-test-"));
    return {
      dialect,
      url: `sqlite:${join(dir, "rmm.sqlite")}`,
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const name = `rmm_test_${process.pid}_${randomBytes(4).toString("hex")}`;
  await withMysql((c) => c.query(`CREATE DATABASE \`${name}\``));
  return {
    dialect,
    url: `${MYSQL_SERVER_URL}/${name}`,
    drop: () => withMysql((c) => c.query(`DROP DATABASE IF EXISTS \`${name}\``)),
  };
}

async function withMysql(fn: (c: Awaited<ReturnType<typeof createConnection>>) => Promise<unknown>): Promise<void> {
  const connection = await createConnection(MYSQL_SERVER_URL);
  try {
    await fn(connection);
  } finally {
    await connection.end();
  }
}
