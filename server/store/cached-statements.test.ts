import type { SqliteDatabase, SqliteStatement } from "kysely";
import { describe, expect, it } from "vitest";
import { withCachedStatements } from "./cached-statements.js";

function countingDatabase(): { db: SqliteDatabase; prepared: string[] } {
  const prepared: string[] = [];
  const statement: SqliteStatement = {
    reader: true,
    all: () => [],
    run: () => ({ changes: 0, lastInsertRowid: 0 }),
    iterate: () => [][Symbol.iterator](),
  };
  return {
    prepared,
    db: {
      close: () => undefined,
      prepare: (sql) => {
        prepared.push(sql);
        return { ...statement };
      },
    },
  };
}

describe("withCachedStatements", () => {
  it("prepares each SQL string once and hands back the same statement", () => {
    const { db, prepared } = countingDatabase();
    const cached = withCachedStatements(db);
    const first = cached.prepare("select 1");
    expect(cached.prepare("select 1")).toBe(first);
    cached.prepare("select 2");
    expect(prepared).toEqual(["select 1", "select 2"]);
  });

  it("evicts the least recently used statement past its bound", () => {
    const { db, prepared } = countingDatabase();
    const cached = withCachedStatements(db, 2);
    cached.prepare("a");
    cached.prepare("b");
    cached.prepare("a"); // a is now the most recently used
    cached.prepare("c"); // evicts b
    cached.prepare("a");
    cached.prepare("b");
    expect(prepared).toEqual(["a", "b", "c", "b"]);
  });
});
