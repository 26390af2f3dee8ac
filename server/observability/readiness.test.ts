import { afterEach, describe, expect, it } from "vitest";
import { HealthStatus, ServingStatus } from "../health/health-status.js";
import { migrateTo, migrationNames, openDatabase, parseDatabaseUrl, type Db } from "../store/index.js";
import { databaseReadiness, Readiness } from "./readiness.js";

describe("readiness checks", () => {
  let db: Db | undefined;
  afterEach(async () => {
    await db?.destroy();
    db = undefined;
  });

  it("names the migrations a database still lacks", async () => {
    db = openDatabase(parseDatabaseUrl("sqlite::memory:"));
    await migrateTo(db, migrationNames[0]!);
    const health = new HealthStatus();
    const report = await new Readiness([databaseReadiness(db)], health, ["x"]).report();
    expect(report.ready).toBe(false);
    expect(report.checks[0]?.error).toBe(`migrations not applied: ${migrationNames.slice(1).join(", ")}`);
    expect(health.get("x")).toBe(ServingStatus.NOT_SERVING);
  });

  it("fails a check that hangs after its timeout, naming it", async () => {
    const hang = { name: "nats", check: () => new Promise<void>(() => undefined) };
    const report = await new Readiness([hang], new HealthStatus(), [], { timeoutMs: 20 }).report();
    expect(report).toEqual({
      ready: false,
      checks: [{ name: "nats", ok: false, error: "nats check timed out after 20 ms" }],
    });
  });

  it("stops mirroring into health once stopped, so shutdown's NOT_SERVING stays", async () => {
    const health = new HealthStatus();
    const readiness = new Readiness([{ name: "ok", check: async () => undefined }], health, ["x"]);
    readiness.stop();
    health.set("x", ServingStatus.NOT_SERVING);
    expect((await readiness.report()).ready).toBe(true);
    expect(health.get("x")).toBe(ServingStatus.NOT_SERVING);
  });
});
