import { randomUUID } from "node:crypto";
import type { Client } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CloseReason, SessionState, type TunnelService } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { FakeAgent } from "../support/fake-agent.js";
import { DIALECTS, createTestDatabase, type TestDatabase } from "../../testkit/test-databases.js";
import { startTestServer, type TestServer } from "../support/test-server.js";
import { until } from "../support/until.js";

describe.each(DIALECTS)("agent and server agree on the sessions that exist (%s)", (dialect) => {
  let db: TestDatabase;
  let ts: TestServer;
  let agent: FakeAgent;
  let alice: Client<typeof TunnelService>;

  beforeEach(async () => {
    db = await createTestDatabase(dialect);
    ts = await startTestServer(db.url);
    const identity = await FakeAgent.enroll(ts.agentClient(), await ts.server.issuer.mintEnrollment(600));
    agent = FakeAgent.connect(ts.agentClient(), identity);
    await agent.waitFor("helloAck");
    await until(() => ts.server.registry.get(agent.agentId) !== undefined, "agent online");
    alice = await ts.technician("alice");
  });
  afterEach(async () => {
    agent?.kill();
    await ts?.dispose();
    await db?.drop();
  });

  const heartbeat = (sessionIds: string[]) =>
    agent.send({ case: "heartbeat", value: { uptimeSeconds: 1n, sessions: { sessionIds } } });

  it("tells the agent to close a session it serves that the server does not hold as live", async () => {
    const { session } = await alice.openTunnel({ agentId: agent.agentId });
    await alice.closeTunnel({ sessionId: session!.id });
    const stray = randomUUID();
    heartbeat([session!.id, stray]);
    const closes = await Promise.all([
      agent.waitFor("closeTunnel", (c) => c.sessionId === stray),
      // Told once by CloseTunnel, and again by the heartbeat that still lists it.
      until(
        () =>
          agent.received.filter((m) => m.kind.case === "closeTunnel" && m.kind.value.sessionId === session!.id)
            .length === 2,
        "a second close for the closed session",
      ),
    ]);
    expect(closes[0].sessionId).toBe(stray);
  });

  it("closes an active session the agent's heartbeat no longer lists, and leaves the ones it lists", async () => {
    const bob = await ts.technician("bob");
    const a = (await alice.openTunnel({ agentId: agent.agentId })).session!;
    const b = (await bob.openTunnel({ agentId: agent.agentId })).session!;
    heartbeat([b.id]);
    await until(
      async () => (await alice.getTunnelStatus({ sessionId: a.id })).session?.state === SessionState.CLOSED,
      "alice's session closed",
    );
    const closed = (await alice.getTunnelStatus({ sessionId: a.id })).session!;
    expect(closed.closeReason).toBe(CloseReason.AGENT_ERROR);
    expect(closed.closeMessage).toMatch(/no longer serves/);
    expect((await bob.getTunnelStatus({ sessionId: b.id })).session?.state).toBe(SessionState.ACTIVE);
  });

  it("leaves everything alone when a heartbeat carries no session report (older agents)", async () => {
    const a = (await alice.openTunnel({ agentId: agent.agentId })).session!;
    agent.send({ case: "heartbeat", value: { uptimeSeconds: 1n } });
    heartbeat([a.id]);
    // The second heartbeat was handled after the first, on the same stream: both are past.
    await until(() => ts.server.registry.get(agent.agentId)?.health?.sessions !== undefined, "the report handled");
    expect((await alice.getTunnelStatus({ sessionId: a.id })).session?.state).toBe(SessionState.ACTIVE);
    expect(agent.received.some((m) => m.kind.case === "closeTunnel")).toBe(false);
  });
});
