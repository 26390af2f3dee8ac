import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_PROTOCOL_FAULTS } from "../../server/services/protocol-faults.js";
import { AuditStore, openDatabase, parseDatabaseUrl } from "../../server/store/index.js";
import { FakeAgent } from "../support/fake-agent.js";
import { grpcEnvelope, rawGrpcCall } from "../support/raw-grpc-call.js";
import { createTestDatabase, type TestDatabase } from "../../testkit/test-databases.js";
import { startTestServer, type TestServer } from "../support/test-server.js";
import { until } from "../support/until.js";

/** Sends one raw gRPC frame on the agent stream and returns the grpc-status and message the server ends with. */
async function rawConnect(
  url: string,
  credential: string,
  payload: Buffer,
): Promise<{ status: number; message: string }> {
  const answer = await rawGrpcCall(url, {
    path: "/rmm.v1.AgentService/Connect",
    token: credential,
    body: grpcEnvelope(payload),
  });
  return { status: answer.grpcStatus, message: answer.grpcMessage };
}

describe("a misbehaving agent stream", () => {
  let db: TestDatabase;
  let ts: TestServer;
  let identity: { agentId: string; credential: string };

  beforeAll(async () => {
    db = await createTestDatabase("sqlite");
    ts = await startTestServer(db.url, { maxMessageBytes: 64 * 1024 });
    identity = await FakeAgent.enroll(ts.agentClient(), await ts.server.issuer.mintEnrollment(600));
  });
  afterAll(async () => {
    await ts.dispose();
    await db.drop();
  });

  it("ends with InvalidArgument on bytes that are not a message", async () => {
    const { status, message } = await rawConnect(
      ts.url,
      identity.credential,
      Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]),
    );
    expect(Code[status]).toBe(Code[Code.InvalidArgument]);
    expect(message).not.toBe("");
  });

  it("ends with ResourceExhausted on a message over the limit", async () => {
    const agent = FakeAgent.connect(ts.agentClient(), identity);
    await agent.waitFor("helloAck");
    agent.send({
      case: "frame",
      value: {
        sessionId: "x",
        channelId: 1,
        sequence: 1n,
        payload: { case: "data", value: { data: new Uint8Array(100 * 1024) } },
      },
    });
    const ended = ConnectError.from(await agent.ended);
    expect(Code[ended.code]).toBe(Code[Code.ResourceExhausted]);
  });

  it("answers frames for unknown channels until its fault budget is spent, then ends the stream, audited", async () => {
    const agent = FakeAgent.connect(ts.agentClient(), identity);
    await agent.waitFor("helloAck");
    for (let channelId = 1; channelId <= MAX_PROTOCOL_FAULTS + 50; channelId++)
      agent.send({
        case: "frame",
        value: {
          sessionId: "nope",
          channelId,
          sequence: 1n,
          payload: { case: "data", value: { data: new Uint8Array(1) } },
        },
      });
    const ended = ConnectError.from(await agent.ended);
    expect(Code[ended.code]).toBe(Code[Code.ResourceExhausted]);
    expect(ended.rawMessage).toMatch(/protocol faults on one stream/);
    const closes = agent.received.filter((m) => m.kind.case === "frame" && m.kind.value.payload.case === "close");
    expect(closes).toHaveLength(MAX_PROTOCOL_FAULTS);
    const store = openDatabase(parseDatabaseUrl(db.url));
    try {
      const audit = new AuditStore(store);
      await until(
        async () => (await audit.forAgent(identity.agentId)).some((r) => r.action === "agent.protocol_faults"),
        "the protocol fault audit row",
      );
    } finally {
      await store.destroy();
    }
  });

  it("ends a stream whose hello carries a hostname over the enrollment limit, storing nothing of it", async () => {
    const agent = FakeAgent.connect(ts.agentClient(), identity, { hello: false });
    agent.send({
      case: "hello",
      value: { agentId: identity.agentId, info: { hostname: "h".repeat(20_000), os: "linux x64", agentVersion: "t" } },
    });
    const ended = ConnectError.from(await agent.ended);
    expect(Code[ended.code]).toBe(Code[Code.InvalidArgument]);
    expect(ended.rawMessage).toBe("hello.info.hostname is 20000 characters; at most 253 are allowed");
    const alice = await ts.technician("alice");
    const listed = (await alice.listAgents({})).agents.find((a) => a.id === identity.agentId);
    expect(listed?.hostname).toBe(`host-${identity.agentId.slice(0, 8)}`);
  });

  it("leaves the server serving other agents", async () => {
    const agent = FakeAgent.connect(ts.agentClient(), identity);
    await agent.waitFor("helloAck");
    const alice = await ts.technician("alice");
    expect((await alice.listAgents({ onlineOnly: true })).agents.map((a) => a.id)).toEqual([identity.agentId]);
    agent.kill();
  });
});
