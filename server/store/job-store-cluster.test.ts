import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../testkit/test-databases.js";
import { JobStore, migrateToLatest, openDatabase, parseDatabaseUrl, type Db, type StepClaim } from "./index.js";

const JOB = "00000000-0000-4000-8000-000000000001";

describe("job steps shared by cluster nodes (MariaDB: cluster mode's store)", () => {
  let testDb: TestDatabase;
  let db: Db;

  beforeEach(async () => {
    testDb = await createTestDatabase("mysql");
    db = openDatabase(parseDatabaseUrl(testDb.url));
    await migrateToLatest(db);
    await new JobStore(db, "n1").create(
      {
        id: JOB,
        created_at: 1,
        creator: "alice",
        role: "tech",
        selector: "",
        agent_ids: "[]",
        params: "{}",
        stdin: null,
        concurrency: 1,
        timeout_ms: 1_000,
        expires_at: Date.now() + 60_000,
        state: "running",
        finished_at: null,
      },
      ["a1", "a2"].map((agent_id) => ({
        job_id: JOB,
        agent_id,
        hostname: agent_id,
        state: "pending" as const,
        stdout_bytes: 0,
        stderr_bytes: 0,
      })),
    );
  });
  afterEach(async () => {
    await db.destroy();
    await testDb.drop();
  });

  const claimOf = (agentId: string): StepClaim => ({
    jobId: JOB,
    agentId,
    startedAt: Date.now(),
    audit: {
      kind: "exec",
      technician: "alice",
      role: "tech",
      agent_id: agentId,
      session_id: "",
      channel_id: null,
      job_id: JOB,
      argv: "[]",
      working_directory: "",
      started_at: Date.now(),
      outcome: "running",
      policy_rule: null,
      stdout_bytes: 0,
      stderr_bytes: 0,
    },
  });
  const succeed = (store: JobStore, agentId: string) =>
    store.write({
      ends: [{ jobId: JOB, agentId, from: ["running"], to: "succeeded", endedAt: Date.now(), exitCode: 0 }],
      reasons: [],
      audits: [],
      audited: [],
      finishedJobs: [{ id: JOB, at: Date.now() }],
    });

  it("holds a job's concurrency across nodes: of two nodes claiming at once, one starts its step and the other's waits", async () => {
    const [n1, n2] = [new JobStore(db, "n1"), new JobStore(db, "n2")];
    const [one, two] = await Promise.all([n1.claim([claimOf("a1")], 1), n2.claim([claimOf("a2")], 1)]);
    expect(one.started.size + two.started.size).toBe(1);
    expect(one.deferred.size + two.deferred.size).toBe(1);
    const [winner, loser, waiting] = one.started.size === 1 ? [n1, n2, "a2"] : [n2, n1, "a1"];
    // A retry while the other node's step still runs waits again.
    expect((await loser.claim([claimOf(waiting)], 1)).deferred).toEqual(new Set([waiting]));
    // The winner's step ends; its finish is not the job's while the other step is pending.
    expect((await succeed(winner, waiting === "a2" ? "a1" : "a2")).finished).toEqual([false]);
    expect((await loser.claim([claimOf(waiting)], 1)).started.has(waiting)).toBe(true);
    expect((await n1.get(JOB))?.finished_at).toBeNull();
    expect((await succeed(loser, waiting)).finished).toEqual([true]);
    expect(await n1.get(JOB)).toMatchObject({ state: "finished" });
    expect((await n1.get(JOB))?.finished_at).not.toBeNull();
    const rows = await db
      .selectFrom("job_steps")
      .select(["agent_id", "node_id", "state"])
      .orderBy("agent_id")
      .execute();
    expect(rows.map((r) => r.state)).toEqual(["succeeded", "succeeded"]);
    expect(new Set(rows.map((r) => r.node_id))).toEqual(new Set(["n1", "n2"]));
  });
});
