import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ChannelClient } from "../../client/channel-client.js";
import { ChannelType } from "../../gen/rmm/v1/frame_pb.js";
import { CloseReason, SessionState } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { FakeAgent } from "../support/fake-agent.js";
import { createTestDatabase, DIALECTS, type TestDatabase } from "../../testkit/test-databases.js";
import { startTestServer, type TestServer } from "../support/test-server.js";
import { until } from "../support/until.js";

const IDLE_MS = 600;

describe.each(DIALECTS)("an idle tunnel session on %s", (dialect) => {
  let db: TestDatabase;
  let ts: TestServer;
  let agent: FakeAgent;

  beforeEach(async () => {
    db = await createTestDatabase(dialect);
    ts = await startTestServer(db.url, { sessionIdleTimeoutMs: IDLE_MS, offlineAfterMs: 60_000 });
    agent = FakeAgent.connect(
      ts.agentClient(),
      await FakeAgent.enroll(ts.agentClient(), await ts.server.issuer.mintEnrollment(60)),
    );
    await agent.waitFor("helloAck");
  });
  afterEach(async () => {
    agent.kill();
    await ts.dispose();
    await db.drop();
  });

  it("is closed as idle_timeout when no channel carries traffic, and its agent is told", async () => {
    const alice = await ts.technician("alice");
    const { session } = await alice.openTunnel({ agentId: agent.agentId });
    expect(await agent.waitFor("closeTunnel")).toMatchObject({
      sessionId: session!.id,
      reason: CloseReason.IDLE_TIMEOUT,
    });
    await until(
      async () => (await alice.getTunnelStatus({ sessionId: session!.id })).session?.state === SessionState.CLOSED,
      "the session row to close",
    );
    expect((await alice.getTunnelStatus({ sessionId: session!.id })).session).toMatchObject({
      closeReason: CloseReason.IDLE_TIMEOUT,
      closeMessage: expect.stringMatching(/no tunnel traffic for/),
    });
  });

  it("stays open while a channel carries traffic, through the sweep that closes a silent session", async () => {
    const alice = await ts.technician("alice");
    const { session } = await alice.openTunnel({ agentId: agent.agentId });
    const opening = ChannelClient.open(alice, { sessionId: session!.id, type: ChannelType.ECHO });
    const open = await agent.waitFor("frame", (f) => f.payload.case === "open");
    let sequence = 1n;
    const grant = (bytes: number) =>
      agent.send({
        case: "frame",
        value: {
          sessionId: session!.id,
          channelId: open.channelId,
          sequence: sequence++,
          payload: { case: "credit", value: { bytes } },
        },
      });
    // The agent's window is its first grant; it grants back only what it received, never past that window.
    const window = 64 * 1024;
    grant(window);
    const channel = await opening;
    // The control: a silent session opened after this one. The sweep that closes it as idle would have closed
    // this one too, had its channel been silent, so traffic is what kept it open; no fixed sleep decides.
    const other = FakeAgent.connect(
      ts.agentClient(),
      await FakeAgent.enroll(ts.agentClient(), await ts.server.issuer.mintEnrollment(60)),
    );
    try {
      await other.waitFor("helloAck");
      const { session: silent } = await alice.openTunnel({ agentId: other.agentId });
      let silentClosed = false;
      const closing = other.waitFor("closeTunnel").then((c) => {
        silentClosed = true;
        return c;
      });
      const echoed = () =>
        agent.received.reduce(
          (n, m) =>
            n +
            (m.kind.case === "frame" && m.kind.value.payload.case === "data"
              ? m.kind.value.payload.value.data.length
              : 0),
          0,
        );
      for (let sent = 0; !silentClosed;) {
        const ping = new TextEncoder().encode(`ping ${sent}`);
        await channel.write(ping);
        sent += ping.length;
        await until(() => echoed() >= sent, "the agent to receive the ping");
        grant(ping.length);
      }
      expect(await closing).toMatchObject({ sessionId: silent!.id, reason: CloseReason.IDLE_TIMEOUT });
      expect(agent.received.filter((m) => m.kind.case === "closeTunnel")).toEqual([]);
      expect((await alice.getTunnelStatus({ sessionId: session!.id })).session?.state).toBe(SessionState.ACTIVE);
    } finally {
      other.kill();
    }
  });
});
