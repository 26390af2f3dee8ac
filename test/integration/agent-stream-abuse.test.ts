import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeAgent } from "../support/fake-agent.js";
import { grpcEnvelope, rawGrpcCall } from "../support/raw-grpc-call.js";
import { createTestDatabase, type TestDatabase } from "../../testkit/test-databases.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

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

  it("leaves the server serving other agents", async () => {
    const agent = FakeAgent.connect(ts.agentClient(), identity);
    await agent.waitFor("helloAck");
    const alice = await ts.technician("alice");
    expect((await alice.listAgents({ onlineOnly: true })).agents.map((a) => a.id)).toEqual([identity.agentId]);
    agent.kill();
  });
});
