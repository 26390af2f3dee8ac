import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestDatabase, DIALECTS, type TestDatabase } from "../../testkit/test-databases.js";
import {
  CommandAuditStore,
  migrateToLatest,
  openDatabase,
  parseDatabaseUrl,
  type CommandStart,
  type Db,
} from "./index.js";

function started(sessionId: string, argv: string[]): CommandStart {
  return {
    kind: "exec",
    technician: "alice",
    role: "tech",
    agent_id: randomUUID(),
    session_id: sessionId,
    channel_id: 1,
    argv: JSON.stringify(argv),
    working_directory: "/tmp",
    started_at: Date.now(),
    outcome: "running",
    stdout_bytes: 0,
    stderr_bytes: 0,
    policy_rule: "everything-else",
    recording_path: null,
    message: null,
  };
}

describe.each(DIALECTS)("command audit store on %s", (dialect) => {
  let testDb: TestDatabase;
  let db: Db;
  let store: CommandAuditStore;

  beforeEach(async () => {
    testDb = await createTestDatabase(dialect);
    db = openDatabase(parseDatabaseUrl(testDb.url));
    await migrateToLatest(db);
    store = new CommandAuditStore(db);
  });
  afterEach(async () => {
    await db.destroy();
    await testDb.drop();
  });

  it("completes a running row once, with its exit status and byte counts (past 4 GiB too)", async () => {
    const sessionId = randomUUID();
    const id = await store.start(started(sessionId, ["ls", "-l"]));
    await store.finish(id, {
      outcome: "completed",
      endedAt: Date.now(),
      exitCode: 2,
      stdoutBytes: 5 * 2 ** 30,
      stderrBytes: 7,
    });
    await store.finish(id, { outcome: "failed", endedAt: Date.now(), stdoutBytes: 0, stderrBytes: 0 });
    const [row] = await store.forSession(sessionId);
    expect(row).toMatchObject({
      outcome: "completed",
      exit_code: 2,
      signal: null,
      stdout_bytes: 5 * 2 ** 30,
      stderr_bytes: 7,
      argv: '["ls","-l"]',
    });
  });

  it("marks rows a previous server left running as failed, and leaves finished ones alone", async () => {
    const sessionId = randomUUID();
    const done = await store.start(started(sessionId, ["true"]));
    await store.finish(done, {
      outcome: "completed",
      endedAt: Date.now(),
      exitCode: 0,
      stdoutBytes: 0,
      stderrBytes: 0,
    });
    await store.start(started(sessionId, ["sleep", "100"]));
    expect(await store.failRunning(Date.now())).toBe(1);
    expect((await store.forSession(sessionId)).map((r) => r.outcome)).toEqual(["completed", "failed"]);
  });

  it("takes the channel id at the end (the row is written before the channel exists) and clears a recording path that could not be written", async () => {
    const sessionId = randomUUID();
    const id = await store.start({
      ...started(sessionId, ["/bin/sh"]),
      kind: "terminal",
      channel_id: null,
      recording_path: "/recordings/s/1.cast",
    });
    expect((await store.forSession(sessionId))[0]).toMatchObject({
      channel_id: null,
      recording_path: "/recordings/s/1.cast",
    });
    await store.finish(id, {
      outcome: "completed",
      endedAt: Date.now(),
      exitCode: 0,
      stdoutBytes: 0,
      stderrBytes: 0,
      channelId: 7,
      recordingPath: null,
    });
    expect((await store.forSession(sessionId))[0]).toMatchObject({ channel_id: 7, recording_path: null });
  });

  it("holds the longest argv and working directory the server lets through", async () => {
    const sessionId = randomUUID();
    // Three-byte characters: the server's byte check, not the character cap, is what keeps this within the column.
    const argv = ["echo", "✓".repeat(Math.floor((65_535 - 20) / 3))];
    expect(Buffer.byteLength(JSON.stringify(argv))).toBeLessThanOrEqual(65_535);
    await store.start({ ...started(sessionId, argv), working_directory: "/" + "d".repeat(4095) });
    expect((await store.forSession(sessionId))[0]).toMatchObject({
      argv: JSON.stringify(argv),
      working_directory: "/" + "d".repeat(4095),
    });
  });
});
