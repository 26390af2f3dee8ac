import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Agent } from "../../agent/agent.js";
import { Backoff } from "../../agent/backoff.js";
import { boundAgentTransport } from "../../bench/bound-agent-transport.js";
import { createLogger } from "../../common/logger.js";
import { openDatabase, parseDatabaseUrl, type Db } from "../../server/store/index.js";
import { FakeAgent } from "../support/fake-agent.js";
import { createTestDatabase, type TestDatabase } from "../../testkit/test-databases.js";
import { startTestServer, type TestServer } from "../support/test-server.js";
import { until } from "../support/until.js";

// The bench's simulated agents spread over loopback source addresses; the server must see each address as the peer.
describe("simulated agents bound to a loopback source address", () => {
  let db: TestDatabase;
  let ts: TestServer;
  let store: Db;

  beforeAll(async () => {
    db = await createTestDatabase("sqlite");
    ts = await startTestServer(db.url);
    store = openDatabase(parseDatabaseUrl(db.url));
  });
  afterAll(async () => {
    await store.destroy();
    await ts.dispose();
    await db.drop();
  });

  it("come online as real agents over their own connection, and go offline when stopped", async () => {
    const identity = await FakeAgent.enroll(ts.agentClient(), await ts.server.issuer.mintEnrollment(600));
    const transport = boundAgentTransport(ts.url, "127.0.0.2");
    const agent = new Agent({
      ...identity,
      info: { hostname: "sim", os: "linux x64", agentVersion: "bench" },
      transport,
      log: createLogger("bound-agent", "silent"),
      backoff: new Backoff(),
    });
    const stop = new AbortController();
    const running = agent.run(stop.signal);
    try {
      await until(() => agent.mode.type === "heartbeat", "the agent in heartbeat mode");
      expect(ts.server.registry.get(identity.agentId)).toBeDefined();
    } finally {
      stop.abort();
      await running;
      transport.close();
    }
    await until(() => ts.server.registry.get(identity.agentId) === undefined, "the agent offline");
  });

  it("are refused with their source address as the peer", async () => {
    const transport = boundAgentTransport(ts.url, "127.0.0.3");
    const stream = transport.connect("not-a-credential");
    await expect(
      (async () => {
        for await (const _ of stream.messages) void _;
      })(),
    ).rejects.toThrow(/unauthenticated/i);
    transport.close();
    await ts.restart();
    const rows = await store
      .selectFrom("audit_events")
      .select("actor")
      .where("action", "=", "auth.refused")
      .where("reason", "like", "%agent%")
      .execute();
    expect(rows).toEqual([{ actor: "peer:127.0.0.3" }]);
  });
});
