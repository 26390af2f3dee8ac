import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { createConnection } from "mysql2/promise";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SessionState, type TunnelService } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { startInProcessAgent, type InProcessAgent } from "../support/in-process-agent.js";
import { PrivateMariaDb } from "../support/private-mariadb.js";
import { startTestServer, type TestServer } from "../support/test-server.js";
import { until } from "../support/until.js";

/** How long a returning database may take to see every pending row write: a few of the test's 200 ms retry caps. */
const RECOVERY_MS = 10_000;

// SQLite lives in the server process and cannot become unreachable: this is MariaDB's failure mode,
// on a private server the test kills by pid (never the machine's).
describe("tunnel sessions through a database outage", () => {
  let maria: PrivateMariaDb;
  let dbUrl: string;
  let ts: TestServer;
  let agent: InProcessAgent;
  let alice: Client<typeof TunnelService>;

  beforeAll(async () => {
    maria = await PrivateMariaDb.create();
  });
  afterAll(async () => {
    await maria?.dispose();
  });
  beforeEach(async () => {
    dbUrl = await maria.createDatabase();
    ts = await startTestServer(dbUrl, { sessionWriteRetryMaxMs: 200 });
    agent = await startInProcessAgent(ts);
    alice = await ts.technician("alice");
  });
  afterEach(async () => {
    await maria.start();
    await agent?.stop();
    await ts?.dispose();
  });

  const liveRows = async (): Promise<Array<{ id: string; state: string }>> => {
    const c = await createConnection(dbUrl);
    try {
      const [rows] = await c.query("select id, state from tunnel_sessions where state <> 'closed'");
      return rows as Array<{ id: string; state: string }>;
    } finally {
      await c.end();
    }
  };
  const rowState = async (id: string): Promise<string | undefined> => {
    const c = await createConnection(dbUrl);
    try {
      const [rows] = await c.query("select state from tunnel_sessions where id = ?", [id]);
      return (rows as Array<{ state: string }>)[0]?.state;
    } finally {
      await c.end();
    }
  };
  const codeOf = (p: Promise<unknown>) =>
    p.then(
      () => "OK",
      (e: unknown) => Code[ConnectError.from(e).code],
    );

  it("closes a session closed during the outage at once on the agent, answers Unavailable, and writes the row once the database returns", async () => {
    const { session } = await alice.openTunnel({ agentId: agent.agentId });
    const id = session!.id;
    expect(agent.agent.mode).toEqual({ type: "tunnel", sessions: [id] });

    await maria.kill();
    const err = await alice.closeTunnel({ sessionId: id }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.Unavailable);
    expect(err?.rawMessage).toMatch(/is closed, but the database could not record it yet/);
    await until(() => agent.agent.mode.type === "heartbeat", "the agent back in heartbeat mode");
    // The retry the error invites is harmless and answers the session as closed.
    const retried = await alice.closeTunnel({ sessionId: id });
    expect(retried.session?.state).toBe(SessionState.CLOSED);
    expect((await alice.getTunnelStatus({ sessionId: id })).session?.state).toBe(SessionState.CLOSED);

    await maria.start();
    await until(async () => (await rowState(id)) === "closed", "the row to be closed", RECOVERY_MS);
    const again = await alice.openTunnel({ agentId: agent.agentId });
    expect(again.session?.id).not.toBe(id);
  });

  it("ends 50 open/close cycles with outages at random points with no live row, the agent in heartbeat mode, and every later open succeeding", async () => {
    let seed = Number(process.env.RMM_TEST_SEED ?? Date.now() % 100_000);
    const seedUsed = seed;
    // mulberry32: small, seedable, so a failing run can be repeated with RMM_TEST_SEED.
    const random = (n: number) => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) % n;
    };
    /** Kills the database after a random number of event-loop turns, so it dies at a random point of a call. */
    const killSoon = async () => {
      for (let turns = random(30); turns > 0; turns--) await new Promise((r) => setImmediate(r));
      await maria.kill();
    };
    const outcomes = new Map<string, number>();
    let kills = 0;
    const opens = new Map<string, number>();
    for (let cycle = 0; cycle < 50; cycle++) {
      const where = random(4); // 0: none, 1: during the open, 2: during the close, 3: between them
      const open = alice.openTunnel({ agentId: agent.agentId }).then(
        (r) => r.session?.id,
        (e: unknown) => {
          const code = Code[ConnectError.from(e).code];
          opens.set(code, (opens.get(code) ?? 0) + 1);
          return undefined;
        },
      );
      if (where === 1) await killSoon();
      const opened = await open;
      if (where === 3) await maria.kill();
      if (where !== 0) kills++;
      if (opened) {
        const close = codeOf(alice.closeTunnel({ sessionId: opened }));
        if (where === 2) await killSoon();
        const code = await close;
        outcomes.set(code, (outcomes.get(code) ?? 0) + 1);
      }
      await maria.start();
    }
    const why = `seed ${seedUsed}, ${kills} outages, close outcomes ${JSON.stringify(Object.fromEntries(outcomes))}, failed opens ${JSON.stringify(Object.fromEntries(opens))}`;
    console.log(why);
    await until(async () => (await liveRows()).length === 0, `no live session rows (${why})`, RECOVERY_MS);
    await until(() => agent.agent.mode.type === "heartbeat", `the agent in heartbeat mode (${why})`, RECOVERY_MS);
    for (let i = 0; i < 3; i++) {
      const { session } = await alice.openTunnel({ agentId: agent.agentId });
      expect((await alice.closeTunnel({ sessionId: session!.id })).session?.state).toBe(SessionState.CLOSED);
    }
    expect(await liveRows()).toEqual([]);
  }, 240_000);
});
