import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ChannelClient } from "../../client/channel-client.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { ChannelType, type TunnelFrameSchema } from "../../gen/rmm/v1/frame_pb.js";
import { CloseReason, SessionState } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { FakeAgent } from "../support/fake-agent.js";
import { createTestDatabase, DIALECTS, type TestDatabase } from "../support/test-databases.js";
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

  it("stays open while a channel carries traffic", async () => {
    const alice = await ts.technician("alice");
    const { session } = await alice.openTunnel({ agentId: agent.agentId });
    const channel = ChannelClient.open(alice, { sessionId: session!.id, type: ChannelType.ECHO });
    const open = await agent.waitFor("frame", (f) => f.payload.case === "open");
    let sequence = 1n;
    const send = (payload: MessageInitShape<typeof TunnelFrameSchema>["payload"]) =>
      agent.send({
        case: "frame",
        value: { sessionId: session!.id, channelId: open.channelId, sequence: sequence++, payload },
      });
    send({ case: "credit", value: { bytes: 1 } });
    await channel;
    // One byte at a time, well within the technician's window: traffic, and nothing past credit.
    for (let elapsed = 0; elapsed < IDLE_MS * 2; elapsed += IDLE_MS / 4) {
      send({ case: "data", value: { data: new Uint8Array([1]) } });
      await new Promise((r) => setTimeout(r, IDLE_MS / 4));
    }
    expect((await alice.getTunnelStatus({ sessionId: session!.id })).session?.state).toBe(SessionState.ACTIVE);
  });
});
