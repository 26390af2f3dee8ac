import { randomUUID } from "node:crypto";
import { sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestDatabase, DIALECTS, type TestDatabase } from "../../testkit/test-databases.js";
import {
  AgentStore,
  AuditStore,
  LiveSessionExistsError,
  SessionStore,
  migrateAllDown,
  migrateTo,
  migrateToLatest,
  migrationNames,
  openDatabase,
  parseDatabaseUrl,
  type Db,
} from "./index.js";

function agentRow(id = randomUUID()) {
  return {
    id,
    hostname: `host-${id.slice(0, 4)}`,
    os: "linux x64",
    agent_version: "0.1.0",
    capabilities: "[5]",
    credential_hash: "0".repeat(64),
    enrolled_at: Date.now(),
    last_seen_at: null,
    revoked_at: null,
  };
}

describe.each(DIALECTS)("store on %s", (dialect) => {
  let testDb: TestDatabase;
  let db: Db;

  beforeEach(async () => {
    testDb = await createTestDatabase(dialect);
    db = openDatabase(parseDatabaseUrl(testDb.url));
  });
  afterEach(async () => {
    await db.destroy();
    await testDb.drop();
  });

  describe("migrations", () => {
    it("migrate forward one release at a time from an empty database", async () => {
      for (const name of migrationNames) {
        const { applied } = await migrateTo(db, name);
        expect(applied).toEqual([name]);
      }
      expect((await migrateToLatest(db)).applied).toEqual([]);
    });

    it("roll all the way down and up again", async () => {
      await migrateToLatest(db);
      await new AgentStore(db).insert(agentRow());
      expect((await migrateAllDown(db)).applied).toEqual([...migrationNames].reverse());
      expect((await migrateToLatest(db)).applied).toEqual(migrationNames);
      expect(await new AgentStore(db).list({ afterId: "", limit: 10 })).toEqual([]);
    });

    it("introspection lists the tables the migrations made, views told apart (the migrator's existence check)", async () => {
      expect(await db.introspection.getTables()).toEqual([]);
      await migrateToLatest(db);
      await sql`create view agent_names as select id from agents`.execute(db);
      const tables = await db.introspection.getTables({ withInternalKyselyTables: true });
      const byName = new Map(tables.map((t) => [t.name, t.isView]));
      expect(byName.get("kysely_migration")).toBe(false);
      expect(byName.get("agents")).toBe(false);
      expect(byName.get("agent_names")).toBe(true);
      expect((await db.introspection.getTables()).map((t) => t.name)).not.toContain("kysely_migration");
      await sql`drop view agent_names`.execute(db);
    });
  });

  describe("with the latest schema", () => {
    beforeEach(async () => {
      await migrateToLatest(db);
    });

    it("let only one of two racing opens of one technician hold a live session for an agent, and another technician hold their own", async () => {
      const agent = agentRow();
      await new AgentStore(db).insert(agent);
      const sessions = new SessionStore(db);
      const results = await Promise.allSettled(
        [1, 2].map(() => sessions.create({ id: randomUUID(), agentId: agent.id, technician: "alice", at: Date.now() })),
      );
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      const rejected = results.find((r) => r.status === "rejected");
      expect(rejected?.status === "rejected" && rejected.reason).toBeInstanceOf(LiveSessionExistsError);
      const bob = await sessions.create({ id: randomUUID(), agentId: agent.id, technician: "bob", at: Date.now() });
      expect((await sessions.liveForAgent(agent.id, "bob"))?.id).toBe(bob.id);
      expect(await sessions.liveIds(agent.id)).toHaveLength(2);
    });

    it("record a session and its tunnel.open audit entry in one statement, for an enrolled agent", async () => {
      const agent = agentRow();
      await new AgentStore(db).insert(agent);
      const sessions = new SessionStore(db);
      const id = randomUUID();
      const created = await sessions.createForActiveAgent({ id, agentId: agent.id, technician: "alice", at: 7 });
      expect(created).toMatchObject({ id, agent_id: agent.id, technician: "alice", state: "opening", opened_at: 7 });
      expect(await sessions.get(id)).toMatchObject(created!);
      const audit = await new AuditStore(db).forSession(id);
      expect(
        audit.map((e) => ({
          at: e.at,
          actor: e.actor,
          action: e.action,
          outcome: e.outcome,
          agent_id: e.agent_id,
          reason: e.reason,
        })),
      ).toEqual([
        { at: 7, actor: "tech:alice", action: "tunnel.open", outcome: "ok", agent_id: agent.id, reason: "requested" },
      ]);
      await expect(
        sessions.createForActiveAgent({ id: randomUUID(), agentId: agent.id, technician: "alice", at: 8 }),
      ).rejects.toBeInstanceOf(LiveSessionExistsError);
      expect((await new AuditStore(db).forAgent(agent.id)).length).toBe(1);
    });

    it("write nothing when opening a session for an unknown or revoked agent", async () => {
      const revoked = { ...agentRow(), revoked_at: 5 };
      await new AgentStore(db).insert(revoked);
      const sessions = new SessionStore(db);
      for (const agentId of [revoked.id, randomUUID()]) {
        expect(
          await sessions.createForActiveAgent({ id: randomUUID(), agentId, technician: "alice", at: 7 }),
        ).toBeUndefined();
        expect(await sessions.liveIds(agentId)).toEqual([]);
        expect(await new AuditStore(db).forAgent(agentId)).toEqual([]);
      }
    });

    it("allow a new session once the previous one is closed", async () => {
      const agent = agentRow();
      await new AgentStore(db).insert(agent);
      const sessions = new SessionStore(db);
      const first = await sessions.create({ id: randomUUID(), agentId: agent.id, technician: "alice", at: 1 });
      expect(await sessions.markActive(first.id, 2)).toBe(true);
      expect(await sessions.close([first.id], { reason: "closed_by_technician", message: "", at: 3 })).toBe(1);
      // A second close is a no-op, so racing closers cannot overwrite the first reason.
      expect(await sessions.close([first.id], { reason: "timeout", message: "", at: 4 })).toBe(0);
      expect((await sessions.get(first.id))?.close_reason).toBe("closed_by_technician");
      const second = await sessions.create({ id: randomUUID(), agentId: agent.id, technician: "alice", at: 5 });
      expect((await sessions.liveForAgent(agent.id))?.id).toBe(second.id);
    });

    it("close sessions with one tunnel.close audit entry each, in the closing statement, none for a second close; a long message is cut", async () => {
      const agent = agentRow();
      await new AgentStore(db).insert(agent);
      const sessions = new SessionStore(db);
      const s = await sessions.create({ id: randomUUID(), agentId: agent.id, technician: "alice", at: 1 });
      const closeOnly = async () =>
        (await new AuditStore(db).forSession(s.id)).filter((e) => e.action === "tunnel.close");
      expect(
        await sessions.close([s.id], {
          reason: "agent_error",
          message: "x".repeat(1_100),
          at: 3,
          actor: "tech:alice",
          outcome: "error",
        }),
      ).toBe(1);
      await sessions.close([s.id], { reason: "timeout", message: "", at: 4 });
      const entries = await closeOnly();
      expect(
        entries.map((e) => ({
          at: e.at,
          actor: e.actor,
          outcome: e.outcome,
          agent_id: e.agent_id,
          session_id: e.session_id,
        })),
      ).toEqual([{ at: 3, actor: "tech:alice", outcome: "error", agent_id: agent.id, session_id: s.id }]);
      // Cut to what the column holds, as the server's own audit entries are.
      expect(entries[0]?.reason).toBe(`agent_error: ${"x".repeat(1_100)}`.slice(0, 1_000));
      expect(await sessions.get(s.id)).toMatchObject({
        state: "closed",
        closed_by: "tech:alice",
        close_outcome: "error",
        close_message: "x".repeat(1_024),
      });
    });

    it("cascade an agent's deletion to its sessions", async () => {
      const agent = agentRow();
      await new AgentStore(db).insert(agent);
      const sessions = new SessionStore(db);
      const s = await sessions.create({ id: randomUUID(), agentId: agent.id, technician: "alice", at: 1 });
      await db.deleteFrom("agents").where("id", "=", agent.id).execute();
      expect(await sessions.get(s.id)).toBeUndefined();
    });

    it("refuse to update or delete audit events", async () => {
      const audit = new AuditStore(db);
      await audit.append({
        at: 1,
        actor: "system",
        action: "test",
        agent_id: "a",
        session_id: null,
        outcome: "ok",
        reason: null,
      });
      await expect(sql`update audit_events set actor = 'mallory'`.execute(db)).rejects.toThrow(/append-only/);
      await expect(sql`delete from audit_events`.execute(db)).rejects.toThrow(/append-only/);
      expect((await audit.forAgent("a")).map((e) => e.actor)).toEqual(["system"]);
    });

    it("record last-seen for many agents in one batch", async () => {
      const agents = new AgentStore(db);
      const rows = Array.from({ length: 1_500 }, () => agentRow());
      for (const row of rows) await agents.insert(row);
      await agents.touchLastSeen(
        rows.map((r) => r.id),
        42,
      );
      const listed = await agents.list({ afterId: "", limit: 2_000 });
      expect(listed.every((a) => a.last_seen_at === 42)).toBe(true);
    });
  });
});

describe("database URLs", () => {
  it("reject what is neither sqlite nor mysql, naming the accepted forms", () => {
    expect(() => parseDatabaseUrl("postgres://x/y")).toThrow(/use sqlite:PATH or mysql:\/\//);
    expect(() => parseDatabaseUrl("sqlite:")).toThrow(/names no file/);
    expect(() => parseDatabaseUrl("mysql://root:secret@h:3306")).toThrow(/names no database/);
    expect(() => parseDatabaseUrl("mysql://root:secret@h:3306")).not.toThrow(/secret/);
  });
});
