import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "../../common/logger.js";
import { createTestDatabase, type TestDatabase } from "../../testkit/test-databases.js";
import { NodeStore, migrateToLatest, openDatabase, parseDatabaseUrl, type Db } from "../store/index.js";
import { ClusterClock } from "./cluster-clock.js";
import { NodeLease } from "./node-lease.js";
import { NodeReaper } from "./node-reaper.js";

const log = createLogger("test");
const MINUTE = 60_000;
/** Far more than the offset's error (half one round trip to a local MariaDB), far less than the skews tried. */
const TOLERANCE_MS = 5_000;

describe("nodes whose hosts' clocks disagree (MariaDB: cluster mode's store)", () => {
  let testDb: TestDatabase;
  let db: Db;
  let nodes: NodeStore;
  const leases: NodeLease[] = [];

  beforeEach(async () => {
    testDb = await createTestDatabase("mysql");
    db = openDatabase(parseDatabaseUrl(testDb.url));
    await migrateToLatest(db);
    nodes = new NodeStore(db);
  });
  afterEach(async () => {
    await Promise.all(leases.splice(0).map((l) => l.stop()));
    await db.destroy();
    await testDb.drop();
  });

  const nodeWithClockOff = async (id: string, skewMs: number) => {
    const clock = new ClusterClock(
      () => nodes.databaseNow(),
      log,
      () => Date.now() + skewMs,
    );
    const lease = new NodeLease(nodes, id, `http://${id}`, log, clock, 6_000);
    leases.push(lease);
    await lease.start();
    return clock;
  };

  it("measures each host's offset to the database's clock", async () => {
    const ahead = await nodeWithClockOff("ahead", MINUTE);
    const behind = await nodeWithClockOff("behind", -MINUTE);
    expect(Math.abs(ahead.offset + MINUTE)).toBeLessThan(TOLERANCE_MS);
    expect(Math.abs(behind.offset - MINUTE)).toBeLessThan(TOLERANCE_MS);
    expect(Math.abs(ahead.now() - behind.now())).toBeLessThan(TOLERANCE_MS);
  });

  it("writes leases in the database's time, so a node a minute behind is not taken for dead", async () => {
    const behind = await nodeWithClockOff("behind", -MINUTE);
    const dbNow = await nodes.databaseNow();
    const lease = await nodes.get("behind");
    expect(lease!.expires_at).toBeGreaterThan(dbNow);
    expect(lease!.expires_at - dbNow).toBeLessThanOrEqual(6_000 + TOLERANCE_MS);
    expect(lease!.started_at).toBeGreaterThan(dbNow - TOLERANCE_MS);
    expect(behind.now()).toBeGreaterThan(dbNow - TOLERANCE_MS);
  });

  it("lets a node a minute ahead reap nothing of a live node", async () => {
    await nodeWithClockOff("live", 0);
    const ahead = await nodeWithClockOff("ahead", MINUTE);
    expect(await new NodeReaper(db, nodes, "ahead", log, 1_000, () => ahead.now()).sweep()).toEqual([]);
    expect(await nodes.get("live")).toBeDefined();
  });
});
