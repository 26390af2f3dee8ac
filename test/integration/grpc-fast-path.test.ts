import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CloseReason,
  ListAgentsRequestSchema,
  OpenChannelRequestSchema,
  SessionState,
  type TunnelService,
} from "../../gen/rmm/v1/tunnel_service_pb.js";
import { FakeAgent } from "../support/fake-agent.js";
import { grpcEnvelope as envelope, rawGrpcCall } from "../support/raw-grpc-call.js";
import { createTestDatabase, type TestDatabase } from "../../testkit/test-databases.js";
import { startTestServer, type TestServer } from "../support/test-server.js";
import { until } from "../support/until.js";

// The fast path is transport code in front of the same handlers: one store is enough to pin it down.
describe("binary gRPC calls on the fast path", () => {
  let db: TestDatabase;
  let ts: TestServer;
  let token: string;
  let alice: Client<typeof TunnelService>;
  const listAgents = toBinary(ListAgentsRequestSchema, create(ListAgentsRequestSchema, { pageSize: 10 }));

  beforeAll(async () => {
    db = await createTestDatabase("sqlite");
    ts = await startTestServer(db.url, { maxMessageBytes: 1024, openTimeoutMs: 5_000 });
    token = await ts.server.issuer.mintTechnician("alice", "tech", 600);
    alice = await ts.technician("alice");
  });
  afterAll(async () => {
    await ts.dispose();
    await db.drop();
  });

  async function silentAgent(): Promise<FakeAgent> {
    const identity = await FakeAgent.enroll(ts.agentClient(), await ts.server.issuer.mintEnrollment(600));
    const agent = FakeAgent.connect(ts.agentClient(), identity);
    agent.onOpen = "silent";
    await agent.waitFor("helloAck");
    await until(() => ts.server.registry.get(agent.agentId) !== undefined, "agent online");
    return agent;
  }

  const LIST_AGENTS = "/rmm.v1.TunnelService/ListAgents";
  const rawCall = (body: Uint8Array, headers = {}, endRequest = true) =>
    rawGrpcCall(ts.url, { path: LIST_AGENTS, token, body, headers, endRequest });

  it("answers a well-formed call with a gRPC response and status 0", async () => {
    const answer = await rawCall(envelope(listAgents));
    expect(answer).toMatchObject({ status: 200, contentType: "application/grpc+proto", grpcStatus: 0 });
    expect(answer.body.length).toBeGreaterThanOrEqual(5);
  });

  it.each([
    [
      "a body that is not the request message",
      () => envelope(new Uint8Array([0xff, 0xff, 0xff])),
      {},
      Code.InvalidArgument,
      /malformed message/,
    ],
    ["no message at all", () => new Uint8Array(0), {}, Code.Unimplemented, /missing input message/],
    [
      "two messages",
      () => Buffer.concat([envelope(listAgents), envelope(listAgents)]),
      {},
      Code.Unimplemented,
      /extra input message/,
    ],
    [
      "an envelope cut short",
      () => envelope(listAgents).subarray(0, 5 + listAgents.length - 1),
      {},
      Code.InvalidArgument,
      /incomplete envelope/,
    ],
    ["a message flagged compressed", () => envelope(listAgents, 1), {}, Code.Internal, /compressed/],
    [
      "a message over the size limit",
      () => envelope(new Uint8Array(2048)),
      {},
      Code.ResourceExhausted,
      /readMaxBytes 1024/,
    ],
    [
      "a malformed grpc-timeout",
      () => envelope(listAgents),
      { "grpc-timeout": "soon" },
      Code.InvalidArgument,
      /invalid grpc timeout/,
    ],
    ["no token", () => envelope(listAgents), { authorization: "" }, Code.Unauthenticated, /./],
  ] as const)(
    "refuses %s with a status the caller can act on, and keeps serving",
    async (_what, body, headers, code, message) => {
      const answer = await rawCall(body(), headers);
      expect(answer.status).toBe(200);
      expect(Code[answer.grpcStatus]).toBe(Code[code]);
      expect(answer.grpcMessage).toMatch(message);
      // Keeps serving: the next well-formed call on the same path succeeds.
      expect(await rawCall(envelope(listAgents))).toMatchObject({ status: 200, grpcStatus: 0 });
    },
  );

  it("times out a caller that never finishes sending its message", async () => {
    const answer = await rawCall(envelope(listAgents).subarray(0, 3), { "grpc-timeout": "200m" }, false);
    expect(Code[answer.grpcStatus]).toBe(Code[Code.DeadlineExceeded]);
  });

  it.each([
    [
      "a message cut short by the end of the stream",
      (open: Uint8Array) => open.subarray(0, open.length - 1),
      Code.InvalidArgument,
      /incomplete envelope/,
    ],
    [
      "a message over the size limit",
      () => envelope(new Uint8Array(2048)),
      Code.ResourceExhausted,
      /readMaxBytes 1024/,
    ],
  ] as const)("ends a stream that sends %s with a clear status", async (_what, body, code, message) => {
    const open = envelope(
      toBinary(
        OpenChannelRequestSchema,
        create(OpenChannelRequestSchema, { kind: { case: "open", value: { sessionId: "x" } } }),
      ),
    );
    const answer = await rawGrpcCall(ts.url, { path: "/rmm.v1.TunnelService/OpenChannel", token, body: body(open) });
    expect(Code[answer.grpcStatus]).toBe(Code[code]);
    expect(answer.grpcMessage).toMatch(message);
  });

  it("ends an open at the caller's deadline and closes the session it started", async () => {
    const agent = await silentAgent();
    const err = await alice.openTunnel({ agentId: agent.agentId }, { timeoutMs: 300 }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err && Code[err.code]).toBe(Code[Code.DeadlineExceeded]);
    const { sessionId } = await agent.waitFor("openTunnel");
    expect(await agent.waitFor("closeTunnel")).toMatchObject({ sessionId, reason: CloseReason.CLOSED_BY_TECHNICIAN });
    expect((await alice.getTunnelStatus({ sessionId })).session?.state).toBe(SessionState.CLOSED);
    agent.kill();
  });

  it("cancels an open whose caller hangs up, and closes the session it started", async () => {
    const agent = await silentAgent();
    const abort = new AbortController();
    const call = alice.openTunnel({ agentId: agent.agentId }, { signal: abort.signal }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    const { sessionId } = await agent.waitFor("openTunnel");
    abort.abort();
    const err = await call;
    expect(err && Code[err.code]).toBe(Code[Code.Canceled]);
    expect(await agent.waitFor("closeTunnel")).toMatchObject({ sessionId, reason: CloseReason.CLOSED_BY_TECHNICIAN });
    await until(
      async () => (await alice.getTunnelStatus({ sessionId })).session?.state === SessionState.CLOSED,
      "session closed",
    );
    agent.kill();
  });
});
