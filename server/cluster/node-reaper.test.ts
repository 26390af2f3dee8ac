import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "../../common/logger.js";
import { createTestDatabase, type TestDatabase } from "../../testkit/test-databases.js";
import {
  AgentStore,
  AuditStore,
  CommandAuditStore,
  FileTransferStore,
  NodeStore,
  SessionStore,
  migrateToLatest,
  openDatabase,
  parseDatabaseUrl,
  type Db,
} from "../store/index.js";
import { NodeReaper } from "./node-reaper.js";

const log = createLogger("test");

describe("reclaiming what a dead node left (MariaDB: cluster mode's store)", () => {
  let testDb: TestDatabase;
  let db: Db;
  let nodes: NodeStore;
  let agentId: string;

  beforeEach(async () => {
    testDb = await createTestDatabase("mysql");
    db = openDatabase(parseDatabaseUrl(testDb.url));
    await migrateToLatest(db);
    nodes = new NodeStore(db);
    agentId = randomUUID();
    await new AgentStore(db).insert({
      id: agentId,
      hostname: "host",
      os: "linux x64",
      agent_version: "0.1.0",
      capabilities: "[5]",
      credential_hash: "0".repeat(64),
      enrolled_at: Date.now(),
      last_seen_at: null,
      revoked_at: null,
    });
  });
  afterEach(async () => {
    await db.destroy();
    await testDb.drop();
  });

  /** A session of `technician` opened by `nodeId` at `at`, with a command and an upload running in it. */
  const liveSession = async (nodeId: string, technician: string, at: number) => {
    const id = randomUUID();
    await new SessionStore(db, nodeId).createForActiveAgent({ id, agentId, technician, at });
    await new SessionStore(db, nodeId).markActive(id, at);
    await new CommandAuditStore(db).start({
      kind: "exec",
      technician,
      role: "tech",
      agent_id: agentId,
      session_id: id,
      channel_id: null,
      argv: "[]",
      working_directory: "",
      started_at: at,
      outcome: "running",
      policy_rule: null,
      stdout_bytes: 0,
      stderr_bytes: 0,
    });
    await new FileTransferStore(db).start({
      at,
      technician,
      agent_id: agentId,
      session_id: id,
      operation: "upload",
      path: "/tmp/f",
      size: 10,
      bytes_transferred: 0,
      resumed_from: 0,
      sha256: null,
      outcome: "running",
      reason: null,
      via: null,
    });
    return id;
  };
  const commandOutcomes = async (sessionId: string) =>
    (await new CommandAuditStore(db).forSession(sessionId)).map((c) => c.outcome);
  const transferOutcomes = async (sessionId: string) =>
    (await new FileTransferStore(db).forSession(sessionId)).map((t) => t.outcome);

  it("closes a dead node's sessions as node_lost once, with one audit entry each, when two survivors reap it at once; the live node's stay", async () => {
    const now = Date.now();
    await nodes.renew({ id: "dead", address: "a", started_at: now - 60_000, expires_at: now - 1_000 });
    await nodes.renew({ id: "live", address: "b", started_at: now, expires_at: now + 60_000 });
    const lost = await liveSession("dead", "alice", now - 30_000);
    const kept = await liveSession("live", "bob", now - 30_000);
    await nodes.placeAgent(agentId, "dead", now - 30_000);

    const [one, two] = await Promise.all(
      ["live", "other"].map((self) => new NodeReaper(db, nodes, self, log, 1_000, Date.now).sweep()),
    );
    const sessions = new SessionStore(db);
    expect(await sessions.get(lost)).toMatchObject({
      state: "closed",
      close_reason: "node_lost",
      close_outcome: "error",
    });
    expect((await sessions.get(kept))?.state).toBe("active");
    // Between them the two sweeps closed it once.
    expect([...one!, ...two!].reduce((n, r) => n + r.sessions, 0)).toBe(1);
    const closes = (await new AuditStore(db).forSession(lost)).filter((e) => e.action === "tunnel.close");
    expect(closes).toHaveLength(1);
    expect((await new CommandAuditStore(db).forSession(lost)).map((c) => c.outcome)).toEqual(["failed"]);
    expect((await new CommandAuditStore(db).forSession(kept)).map((c) => c.outcome)).toEqual(["running"]);
    expect((await nodes.all()).map((n) => n.id)).toEqual(["live"]);
    expect(await nodes.holderOf(agentId, Date.now())).toBeUndefined();
  });

  it("leaves a node that restarted under the same id alone, and sessions opened after a lease expired", async () => {
    const now = Date.now();
    await nodes.renew({ id: "back", address: "a", started_at: now - 60_000, expires_at: now - 10_000 });
    const old = await liveSession("back", "alice", now - 30_000);
    const fresh = await liveSession("back", "bob", now - 5_000);
    expect(await new NodeReaper(db, nodes, "live", log, 1_000, Date.now).sweep()).toMatchObject([
      { nodeId: "back", sessions: 1, commands: 1, transfers: 1 },
    ]);
    const sessions = new SessionStore(db);
    expect((await sessions.get(old))?.close_reason).toBe("node_lost");
    expect([await commandOutcomes(old), await transferOutcomes(old)]).toEqual([["failed"], ["failed"]]);
    // Opened after the lease it would belong to had expired: a restart's, not the dead run's, and so are
    // the command and the transfer running in it.
    expect((await sessions.get(fresh))?.state).toBe("active");
    expect([await commandOutcomes(fresh), await transferOutcomes(fresh)]).toEqual([["running"], ["running"]]);

    await nodes.renew({ id: "back", address: "a", started_at: now, expires_at: now + 60_000 });
    expect(await new NodeReaper(db, nodes, "live", log, 1_000, Date.now).sweep()).toEqual([]);
    expect((await sessions.get(fresh))?.state).toBe("active");
    expect([await commandOutcomes(fresh), await transferOutcomes(fresh)]).toEqual([["running"], ["running"]]);
  });
});
