import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "../../common/logger.js";
import type { ConnectResponse } from "../../gen/rmm/v1/agent_service_pb.js";
import { CloseReason } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { PrivateMariaDb } from "../../test/support/private-mariadb.js";
import { until } from "../../test/support/until.js";
import { AgentStore, migrateToLatest, openDatabase, parseDatabaseUrl, SessionStore } from "../store/index.js";
import type { Db, SessionRow } from "../store/index.js";
import { AgentConnection } from "./agent-connection.js";
import {
  IllegalSessionTransitionError,
  LEGAL_TRANSITIONS,
  SessionLifecycle,
  type CloseSpec,
  type LifecycleState,
  type SessionEvent,
  type TrackedSession,
} from "./session-lifecycle.js";

const CLOSE: CloseSpec = {
  reason: "closed_by_technician",
  message: "by alice",
  actor: "tech:alice",
  outcome: "ok",
  tellAgent: true,
};

/** A MariaDB of this file's own: the unit under test is the row write, so the store is real and can be killed. */
let maria: PrivateMariaDb;
let db: Db;
beforeAll(async () => {
  maria = await PrivateMariaDb.create();
  // One schema for the file (migrating costs about 1.5 s here); each test has an agent of its own.
  db = openDatabase(parseDatabaseUrl(await maria.createDatabase()));
  await migrateToLatest(db);
});
afterAll(async () => {
  await db?.destroy();
  await maria?.dispose();
});

describe("SessionLifecycle", () => {
  let store: SessionStore;
  let agentId: string;
  let conn: AgentConnection;
  let sent: ConnectResponse[];
  let events: string[];
  let lifecycle: SessionLifecycle;

  beforeEach(async () => {
    await maria.start();
    store = new SessionStore(db);
    agentId = randomUUID();
    await new AgentStore(db).insert({
      id: agentId,
      hostname: "h",
      os: "linux x64",
      agent_version: "t",
      capabilities: "[]",
      credential_hash: "0".repeat(64),
      enrolled_at: 1,
      last_seen_at: null,
      revoked_at: null,
    });
    conn = new AgentConnection(
      agentId,
      { hostname: "h", os: "", agentVersion: "", capabilities: [], labels: {} },
      Date.now(),
    );
    sent = [];
    void (async () => {
      for await (const m of conn.outbound) sent.push(m);
    })();
    events = [];
    lifecycle = new SessionLifecycle(
      { sessions: store, log: createLogger("test", "silent") },
      { retryInitialMs: 20, retryMaxMs: 50 },
    );
    lifecycle.onEvent((e: SessionEvent) => events.push(`${e.type} ${e.session.id}`));
  });
  afterEach(async () => {
    lifecycle.stop();
    conn.end();
    await maria.start();
  });

  async function begin(): Promise<TrackedSession> {
    const id = randomUUID();
    const insert = store.createForActiveAgent({ id, agentId, technician: "alice", at: Date.now() });
    const row: SessionRow = {
      id,
      agent_id: agentId,
      technician: "alice",
      state: "opening",
      close_reason: null,
      close_message: null,
      opened_at: Date.now(),
      ready_at: null,
      closed_at: null,
      closed_by: null,
      close_outcome: null,
      exclusive: 0,
      ephemeral: 0,
      node_id: null,
    };
    const { session } = lifecycle.begin({ row, conn, recorded: insert });
    await insert;
    return session;
  }

  /** A tracked session driven to `state` through legal transitions. */
  async function sessionIn(state: LifecycleState): Promise<TrackedSession> {
    const s = await begin();
    if (state === "opening") return s;
    if (state === "active") {
      lifecycle.activate(s);
      return s;
    }
    if (state === "closing") {
      // Closing lasts while the row cannot be written: take the database away.
      await maria.kill();
      await lifecycle.close(s, CLOSE).catch(() => undefined);
      return s;
    }
    await lifecycle.close(s, CLOSE);
    await s.written;
    return s;
  }

  const STATES: LifecycleState[] = ["opening", "active", "closing", "closed"];
  const ACTIONS = {
    activate: { to: "active", run: (l: SessionLifecycle, s: TrackedSession) => l.activate(s) },
    close: { to: "closing", run: (l: SessionLifecycle, s: TrackedSession) => l.close(s, CLOSE) },
  } as const;

  describe.each(STATES)("from %s", (from) => {
    it.each(Object.keys(ACTIONS) as Array<keyof typeof ACTIONS>)("%s follows the LEGAL table", async (action) => {
      const s = await sessionIn(from);
      const { to, run } = ACTIONS[action];
      const attempt = async () => run(lifecycle, s);
      if (from === "closed") {
        // Forgotten once closed: nothing can move it again.
        await expect(attempt()).rejects.toThrow(/not tracked/);
      } else if (from === "closing" && action === "close") {
        // Closing twice is the harmless retry: no second transition, and it settles with the first.
        const again = attempt();
        expect(s.state).toBe("closing");
        await maria.start();
        await again;
        expect(s.state).toBe("closed");
      } else if (LEGAL_TRANSITIONS[from].includes(to)) {
        await attempt().catch(() => undefined);
        expect(s.state === to || (to === "closing" && s.state === "closed")).toBe(true);
      } else {
        await expect(attempt()).rejects.toThrow(IllegalSessionTransitionError);
        expect(s.state).toBe(from);
      }
    });
  });

  it("closes at once in memory and on the agent, and writes the row once the database returns", async () => {
    const s = await sessionIn("active");
    await until(async () => (await store.get(s.id))?.state === "active", "the active row");
    await maria.kill();
    await expect(lifecycle.close(s, CLOSE)).rejects.toThrow();
    // Closed for callers already: out of the indexes, the agent told, listeners notified.
    expect(s.state).toBe("closing");
    expect(lifecycle.active(s.id)).toBeUndefined();
    expect(lifecycle.liveOnAgent(agentId)).toEqual([]);
    expect(conn.sessions.has(s.id)).toBe(false);
    await until(() => sent.some((m) => m.kind.case === "closeTunnel"), "the agent told");
    expect(sent.find((m) => m.kind.case === "closeTunnel")?.kind.value).toMatchObject({
      sessionId: s.id,
      reason: CloseReason.CLOSED_BY_TECHNICIAN,
    });
    expect(events).toEqual([`active ${s.id}`, `closing ${s.id}`]);
    expect(lifecycle.get(s.id)?.row).toMatchObject({ state: "closed", close_reason: "closed_by_technician" });

    await maria.start();
    await s.written;
    expect(s.state).toBe("closed");
    expect(lifecycle.get(s.id)).toBeUndefined();
    expect(await store.get(s.id)).toMatchObject({
      state: "closed",
      close_reason: "closed_by_technician",
      closed_by: "tech:alice",
    });
  });

  it("closes a row whose insert committed while its open was being closed, never leaving it opening", async () => {
    const s = await begin();
    await lifecycle.close(s, { ...CLOSE, reason: "open_failed", tellAgent: true });
    await s.written;
    expect((await store.get(s.id))?.state).toBe("closed");
    expect(await store.liveIds(agentId)).toEqual([]);
  });
});
