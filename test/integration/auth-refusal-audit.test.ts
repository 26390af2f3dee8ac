import { randomUUID } from "node:crypto";
import { ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTechnicianClient } from "../../client/technician-client.js";
import { openDatabase, parseDatabaseUrl, type Db } from "../../server/store/index.js";
import { FakeAgent } from "../support/fake-agent.js";
import { createTestDatabase, DIALECTS, type TestDatabase } from "../../testkit/test-databases.js";
import { startTestServer, type TestServer } from "../support/test-server.js";
import { until } from "../support/until.js";

describe.each(DIALECTS)("refused authentications in the audit trail on %s", (dialect) => {
  let db: TestDatabase;
  let ts: TestServer;
  let store: Db;
  const refusals = async (like: string) =>
    (
      await store
        .selectFrom("audit_events")
        .selectAll()
        .where("action", "=", "auth.refused")
        .where("reason", "like", like)
        .orderBy("id")
        .execute()
    ).map((r) => ({ actor: r.actor, agentId: r.agent_id, reason: r.reason }));

  beforeAll(async () => {
    db = await createTestDatabase(dialect);
    ts = await startTestServer(db.url);
    store = openDatabase(parseDatabaseUrl(db.url));
  });
  afterAll(async () => {
    await store.destroy();
    await ts.dispose();
    await db.drop();
  });

  it("writes two rows for a flood of 200 bad technician tokens from one address", async () => {
    const client = createTechnicianClient(ts.url, "not-a-jwt");
    for (let batch = 0; batch < 10; batch++)
      await Promise.all(
        Array.from({ length: 20 }, () => client.listAgents({}).catch((e: unknown) => ConnectError.from(e))),
      );
    await until(async () => (await refusals("%technician%")).length === 1, "the flood's first audit row");
    // The window's sum is written when it ends, or at shutdown.
    await ts.restart();
    expect(await refusals("%technician%")).toEqual([
      {
        actor: "peer:127.0.0.1",
        agentId: null,
        reason: "technician authentication refused from 127.0.0.1: technician token is malformed (ERR_JWS_INVALID)",
      },
      {
        actor: "peer:127.0.0.1",
        agentId: null,
        reason: expect.stringMatching(
          /^199 more technician authentication refusals from 127\.0\.0\.1 within 60 s \(the last: technician token is malformed/,
        ),
      },
    ]);
  });

  it("audits a forged agent credential and a hello that claims another agent, summed in one window", async () => {
    const forged = FakeAgent.connect(ts.agentClient(), { agentId: randomUUID(), credential: `${randomUUID()}.AAAA` });
    await forged.ended;
    await until(
      async () => (await refusals("agent authentication refused%unknown agent credential%")).length === 1,
      "the forged credential's row",
    );
    const token = await ts.server.issuer.mintEnrollment(600);
    const victim = await FakeAgent.enroll(ts.agentClient(), token);
    const mallory = await FakeAgent.enroll(ts.agentClient(), token, "mallory");
    await FakeAgent.connect(ts.agentClient(), mallory, { helloAgentId: victim.agentId }).ended;
    await ts.restart();
    expect(await refusals("%agent authentication%")).toEqual([
      {
        actor: "peer:127.0.0.1",
        agentId: null,
        reason: "agent authentication refused from 127.0.0.1: unknown agent credential: enroll the agent again",
      },
      {
        actor: "peer:127.0.0.1",
        agentId: mallory.agentId,
        reason: `1 more agent authentication refusals from 127.0.0.1 within 60 s (the last: credential belongs to agent ${mallory.agentId}, but hello claims ${victim.agentId})`,
      },
    ]);
  });
});
