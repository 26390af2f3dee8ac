import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "../../common/logger.js";
import { AuditStore, migrateToLatest, openDatabase, parseDatabaseUrl, type Db } from "../store/index.js";
import { AuditLog } from "./audit-log.js";
import { AuthFailureAudit } from "./auth-failure-audit.js";

describe("AuthFailureAudit", () => {
  let db: Db;
  let failures: AuthFailureAudit;
  const rows = () =>
    db.selectFrom("audit_events").selectAll().where("action", "=", "auth.refused").orderBy("id").execute();

  beforeEach(async () => {
    db = openDatabase(parseDatabaseUrl("sqlite::memory:"));
    await migrateToLatest(db);
    // A window long enough that only flush() ends it.
    failures = new AuthFailureAudit(new AuditLog(new AuditStore(db), createLogger("test", "silent")), 3_600_000, 10);
  });
  afterEach(async () => {
    await failures.stop();
    await db.destroy();
  });

  it("writes a source's first refusal at once and the rest of its window as one row", async () => {
    for (let i = 0; i < 1_000; i++)
      failures.record({ kind: "technician", source: "10.0.0.1", reason: `bad token ${i}` });
    await failures.flush();
    expect((await rows()).map((r) => [r.actor, r.outcome, r.reason])).toEqual([
      ["peer:10.0.0.1", "refused", "technician authentication refused from 10.0.0.1: bad token 0"],
      [
        "peer:10.0.0.1",
        "refused",
        "999 more technician authentication refusals from 10.0.0.1 within 3600 s (the last: bad token 999)",
      ],
    ]);
  });

  it("sums sources past its cap under one entry, so a flood from many addresses stays bounded", async () => {
    for (let i = 0; i < 500; i++) failures.record({ kind: "agent", source: `10.0.${i >> 8}.${i & 255}`, reason: "no" });
    await failures.flush();
    const written = await rows();
    // Ten sources, then "other sources": once at its first refusal and once for the 489 after it.
    expect(written).toHaveLength(12);
    expect(written.at(-1)!.reason).toBe(
      "489 more agent authentication refusals from other sources within 3600 s (the last: no)",
    );
  });
});
