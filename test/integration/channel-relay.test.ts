import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ChannelClient } from "../../client/channel-client.js";
import { AsyncQueue } from "../../common/async-queue.js";
import { ChannelType, type TunnelFrameSchema } from "../../gen/rmm/v1/frame_pb.js";
import type { OpenChannelRequest, OpenChannelResponse, TunnelService } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { OpenChannelRequestSchema } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { FakeAgent } from "../support/fake-agent.js";
import { until } from "../support/until.js";

type TunnelFramePayload = MessageInitShape<typeof TunnelFrameSchema>["payload"];
import { createTestDatabase, type TestDatabase } from "../../testkit/test-databases.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/**
 * The server's relay against a scripted agent that misbehaves on purpose:
 * every fault ends one channel with a clear status; the stream survives.
 */
// The relay's every frame crosses the transport: both ways, the fast path and connect-node only (one store is enough).
describe.each([true, false])("the channel relay (fast path %s)", (fastPath) => {
  let db: TestDatabase;
  let ts: TestServer;
  let alice: Client<typeof TunnelService>;
  let agent: FakeAgent;
  let sessionId: string;

  beforeEach(async () => {
    db = await createTestDatabase("sqlite");
    ts = await startTestServer(db.url, { offlineAfterMs: 60_000, fastPath });
    alice = await ts.technician("alice");
    agent = FakeAgent.connect(
      ts.agentClient(),
      await FakeAgent.enroll(ts.agentClient(), await ts.server.issuer.mintEnrollment(60)),
    );
    await agent.waitFor("helloAck");
    sessionId = (await alice.openTunnel({ agentId: agent.agentId })).session!.id;
  });
  afterEach(async () => {
    agent.kill();
    await ts.dispose();
    await db.drop();
  });

  /** Opens a channel the fake agent accepts with `credit` bytes. */
  async function acceptedChannel(credit: number): Promise<{ channel: Promise<ChannelClient>; channelId: number }> {
    const channel = ChannelClient.open(alice, { sessionId, type: ChannelType.ECHO });
    const open = await agent.waitFor("frame", (f) => f.payload.case === "open");
    agent.send({
      case: "frame",
      value: {
        sessionId,
        channelId: open.channelId,
        sequence: 1n,
        payload: { case: "credit", value: { bytes: credit } },
      },
    });
    return { channel, channelId: open.channelId };
  }

  it("answers an agent frame for an unknown session or channel with a close for it, and the stream lives on", async () => {
    agent.send({
      case: "frame",
      value: {
        sessionId: "00000000-0000-4000-8000-000000000000",
        channelId: 7,
        sequence: 1n,
        payload: { case: "data", value: { data: new Uint8Array(3) } },
      },
    });
    const close = await agent.waitFor("frame", (f) => f.channelId === 7);
    expect(close.payload).toMatchObject({
      case: "close",
      value: { code: Code.NotFound, message: expect.stringMatching(/is not open on this stream/) },
    });
    agent.send({
      case: "frame",
      value: { sessionId, channelId: 99, sequence: 1n, payload: { case: "credit", value: { bytes: 1 } } },
    });
    expect((await agent.waitFor("frame", (f) => f.channelId === 99)).payload).toMatchObject({
      case: "close",
      value: { code: Code.NotFound },
    });
    expect((await alice.getTunnelStatus({ sessionId })).session?.state).toBe(2);
  });

  it("ends a channel whose agent frames arrive out of order, telling both sides", async () => {
    const { channel, channelId } = await acceptedChannel(1024);
    const client = await channel;
    agent.send({
      case: "frame",
      value: { sessionId, channelId, sequence: 5n, payload: { case: "data", value: { data: new Uint8Array(1) } } },
    });
    expect(await client.ended).toMatchObject({
      code: Code.InvalidArgument,
      message: expect.stringMatching(/expected sequence 2, got 5/),
    });
    expect(
      (await agent.waitFor("frame", (f) => f.channelId === channelId && f.payload.case === "close")).payload.value,
    ).toMatchObject({ code: Code.InvalidArgument });
  });

  it("ends a channel whose agent sends past the technician's credit", async () => {
    const { channel, channelId } = await acceptedChannel(1024);
    const client = await channel;
    agent.send({
      case: "frame",
      value: {
        sessionId,
        channelId,
        sequence: 2n,
        payload: { case: "data", value: { data: new Uint8Array(300 * 1024) } },
      },
    });
    expect(await client.ended).toMatchObject({
      code: Code.ResourceExhausted,
      message: expect.stringMatching(/past its credit/),
    });
  });

  it("ends a channel whose technician sends past the agent's credit", async () => {
    const requests = new AsyncQueue<OpenChannelRequest>();
    requests.push(
      create(OpenChannelRequestSchema, { kind: { case: "open", value: { sessionId, type: ChannelType.ECHO } } }),
    );
    const responses = alice.openChannel(requests)[Symbol.asyncIterator]();
    const open = await agent.waitFor("frame", (f) => f.payload.case === "open");
    agent.send({
      case: "frame",
      value: { sessionId, channelId: open.channelId, sequence: 1n, payload: { case: "credit", value: { bytes: 10 } } },
    });
    expect((await responses.next()).value?.kind.case).toBe("opened");
    requests.push(create(OpenChannelRequestSchema, { kind: { case: "data", value: { data: new Uint8Array(11) } } }));
    const seen = [];
    for (let r = await responses.next(); !r.done; r = await responses.next()) seen.push(r.value.kind);
    expect(seen.at(-1)).toMatchObject({
      case: "close",
      value: { code: Code.ResourceExhausted, message: expect.stringMatching(/11 bytes with only 10/) },
    });
  });

  it("refuses a channel with no type, on another technician's session, or before open", async () => {
    await expect(ChannelClient.open(alice, { sessionId, type: ChannelType.UNSPECIFIED })).rejects.toMatchObject({
      code: Code.InvalidArgument,
    });
    const bob = await ts.technician("bob");
    await expect(ChannelClient.open(bob, { sessionId, type: ChannelType.ECHO })).rejects.toMatchObject({
      code: Code.PermissionDenied,
    });
    const requests = new AsyncQueue<OpenChannelRequest>();
    requests.push(create(OpenChannelRequestSchema, { kind: { case: "credit", value: { bytes: 1 } } }));
    const err = await (async () => {
      for await (const _ of alice.openChannel(requests)) void _;
    })().catch((e: unknown) => ConnectError.from(e));
    expect(err).toMatchObject({ code: Code.InvalidArgument, rawMessage: "the first message must be open, got credit" });
  });

  it("drops the agent's late frames for a channel that just ended, without answering them", async () => {
    const { channel, channelId } = await acceptedChannel(1024);
    const client = await channel;
    client.close();
    await agent.waitFor("frame", (f) => f.channelId === channelId && f.payload.case === "close");
    agent.send({
      case: "frame",
      value: { sessionId, channelId, sequence: 2n, payload: { case: "data", value: { data: new Uint8Array(3) } } },
    });
    // A frame for a channel that never existed is still answered, so its answer marks when the late one was handled.
    agent.send({
      case: "frame",
      value: { sessionId, channelId: 999, sequence: 1n, payload: { case: "data", value: { data: new Uint8Array(1) } } },
    });
    await agent.waitFor("frame", (f) => f.channelId === 999);
    const closes = agent.received.filter(
      (m) => m.kind.case === "frame" && m.kind.value.channelId === channelId && m.kind.value.payload.case === "close",
    );
    expect(closes).toHaveLength(1);
  });

  /** A raw OpenChannel call: what the technician sends, and everything it got until the call ended. */
  function rawChannel(open: Partial<{ type: ChannelType; initialCredit: number }> = {}) {
    const requests = new AsyncQueue<OpenChannelRequest>();
    requests.push(
      create(OpenChannelRequestSchema, {
        kind: { case: "open", value: { sessionId, type: ChannelType.ECHO, ...open } },
      }),
    );
    const seen: OpenChannelResponse["kind"][] = [];
    const ended = (async () => {
      for await (const r of alice.openChannel(requests)) seen.push(r.kind);
    })().catch((e: unknown) => ConnectError.from(e));
    return { requests, seen, ended };
  }

  const agentFrame = (channelId: number, sequence: bigint, payload: TunnelFramePayload) =>
    agent.send({ case: "frame", value: { sessionId, channelId, sequence, payload } });

  it("refuses a channel type the agent does not offer, before the agent hears of it", async () => {
    const err = await ChannelClient.open(alice, {
      sessionId,
      type: ChannelType.EXEC,
      params: { case: "exec", value: { argv: ["true"] } },
    }).catch((e: unknown) => ConnectError.from(e));
    expect(err).toMatchObject({ code: Code.Unimplemented, rawMessage: expect.stringMatching(/offers echo/) });
    expect(agent.received.some((m) => m.kind.case === "frame" && m.kind.value.payload.case === "open")).toBe(false);
  });

  it("closes a channel the agent neither accepts nor refuses within the open timeout, on both sides", async () => {
    const { seen, ended } = rawChannel();
    const open = await agent.waitFor("frame", (f) => f.payload.case === "open");
    await ended;
    expect(seen).toEqual([
      expect.objectContaining({ case: "close", value: expect.objectContaining({ code: Code.DeadlineExceeded }) }),
    ]);
    const close = await agent.waitFor("frame", (f) => f.channelId === open.channelId && f.payload.case === "close");
    expect(close.payload.value).toMatchObject({
      code: Code.DeadlineExceeded,
      message: expect.stringMatching(/1000 ms/),
    });
  });

  it("ends a channel whose agent sends data before accepting it", async () => {
    const { seen, ended } = rawChannel();
    const open = await agent.waitFor("frame", (f) => f.payload.case === "open");
    agentFrame(open.channelId, 1n, { case: "data", value: { data: new Uint8Array(4) } });
    await ended;
    expect(seen).toEqual([
      expect.objectContaining({
        case: "close",
        value: expect.objectContaining({
          code: Code.InvalidArgument,
          message: expect.stringMatching(/credit \(accept\)/),
        }),
      }),
    ]);
  });

  it("caps every grant at the window its side advertised: the technician's initial credit, the agent's first grant", async () => {
    // Past the 256 KiB window a technician channel may have; echo, the relay's speed test, may have 1 MiB.
    const tooBig = rawChannel({ type: ChannelType.EXEC, initialCredit: 256 * 1024 + 1 });
    expect(await tooBig.ended).toMatchObject({
      code: Code.InvalidArgument,
      rawMessage: expect.stringMatching(/at most 262144/),
    });
    const tooBigEcho = rawChannel({ initialCredit: 1024 * 1024 + 1 });
    expect(await tooBigEcho.ended).toMatchObject({
      code: Code.InvalidArgument,
      rawMessage: expect.stringMatching(/at most 1048576/),
    });

    // The technician advertised 1000 bytes and the agent has used none: granting 1 more is past the window.
    const tech = rawChannel({ initialCredit: 1000 });
    let open = await agent.waitFor("frame", (f) => f.payload.case === "open");
    expect(open.payload.value).toMatchObject({ initialCredit: 1000 });
    agentFrame(open.channelId, 1n, { case: "credit", value: { bytes: 64 } });
    await until(() => tech.seen.length >= 2, "the channel to open");
    tech.requests.push(create(OpenChannelRequestSchema, { kind: { case: "credit", value: { bytes: 1 } } }));
    await tech.ended;
    expect(tech.seen.at(-1)).toMatchObject({
      case: "close",
      value: { code: Code.InvalidArgument, message: expect.stringMatching(/past its window of 1000/) },
    });

    // The agent accepted with 64 bytes: a further grant while those are outstanding is past its window.
    const agentSide = rawChannel();
    open = await agent.waitFor("frame", (f) => f.payload.case === "open" && f.channelId !== open.channelId);
    agentFrame(open.channelId, 1n, { case: "credit", value: { bytes: 64 } });
    agentFrame(open.channelId, 2n, { case: "credit", value: { bytes: 4 * 1024 * 1024 } });
    await agentSide.ended;
    expect(agentSide.seen.map((k) => k.case)).toEqual(["opened", "credit", "close"]);
    expect(agentSide.seen.at(-1)).toMatchObject({
      value: { code: Code.InvalidArgument, message: expect.stringMatching(/past its window of 64/) },
    });
  });
});
