import * as http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CloseReason, ListAgentsRequestSchema, SessionState, type TunnelService } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { FakeAgent } from "../support/fake-agent.js";
import { createTestDatabase, type TestDatabase } from "../support/test-databases.js";
import { startTestServer, type TestServer } from "../support/test-server.js";
import { until } from "../support/until.js";

/** A gRPC envelope around `message` (flags, 4-byte big-endian length). */
function envelope(message: Uint8Array, flags = 0): Uint8Array {
  const out = new Uint8Array(5 + message.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, message.length);
  out.set(message, 5);
  return out;
}

interface RawAnswer {
  status: number;
  contentType: string | undefined;
  grpcStatus: number;
  grpcMessage: string;
  body: Buffer;
}

/** One gRPC call written by hand, so the request can be anything a broken or hostile client sends. */
async function rawCall(url: string, token: string, body: Uint8Array, headers: http2.OutgoingHttpHeaders = {}, opts: { endRequest?: boolean } = {}): Promise<RawAnswer> {
  const session = http2.connect(url);
  try {
    return await new Promise<RawAnswer>((resolve, reject) => {
      const req = session.request({
        ":method": "POST",
        ":path": "/rmm.v1.TunnelService/ListAgents",
        "content-type": "application/grpc",
        te: "trailers",
        authorization: `Bearer ${token}`,
        ...headers,
      });
      const chunks: Buffer[] = [];
      let status = 0;
      let contentType: string | undefined;
      let trailers: http2.IncomingHttpHeaders = {};
      req.on("response", (h) => {
        status = Number(h[":status"]);
        contentType = h["content-type"] as string | undefined;
        // A trailers-only answer carries its status in the headers.
        if (h["grpc-status"] !== undefined) trailers = h;
      });
      req.on("trailers", (t) => (trailers = t));
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("error", reject);
      req.on("end", () =>
        resolve({
          status,
          contentType,
          grpcStatus: Number(trailers["grpc-status"]),
          grpcMessage: decodeURIComponent(String(trailers["grpc-message"] ?? "")),
          body: Buffer.concat(chunks),
        }),
      );
      if (opts.endRequest === false) req.write(body);
      else req.end(body);
    });
  } finally {
    session.close();
  }
}

// The fast path is transport code in front of the same handlers: one store is enough to pin it down.
describe("binary gRPC unary calls on the fast path", () => {
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

  it("answers a well-formed call with a gRPC response and status 0", async () => {
    const answer = await rawCall(ts.url, token, envelope(listAgents));
    expect(answer).toMatchObject({ status: 200, contentType: "application/grpc+proto", grpcStatus: 0 });
    expect(answer.body.length).toBeGreaterThanOrEqual(5);
  });

  it.each([
    ["a body that is not the request message", () => envelope(new Uint8Array([0xff, 0xff, 0xff])), {}, Code.InvalidArgument, /malformed message/],
    ["no message at all", () => new Uint8Array(0), {}, Code.Unimplemented, /missing input message/],
    ["two messages", () => Buffer.concat([envelope(listAgents), envelope(listAgents)]), {}, Code.Unimplemented, /extra input message/],
    ["an envelope cut short", () => envelope(listAgents).subarray(0, 5 + listAgents.length - 1), {}, Code.InvalidArgument, /incomplete envelope/],
    ["a message flagged compressed", () => envelope(listAgents, 1), {}, Code.Internal, /compressed/],
    ["a message over the size limit", () => envelope(new Uint8Array(2048)), {}, Code.ResourceExhausted, /readMaxBytes 1024/],
    ["a malformed grpc-timeout", () => envelope(listAgents), { "grpc-timeout": "soon" }, Code.InvalidArgument, /invalid grpc timeout/],
    ["no token", () => envelope(listAgents), { authorization: "" }, Code.Unauthenticated, /./],
  ] as const)("refuses %s with a status the caller can act on, and keeps serving", async (_what, body, headers, code, message) => {
    const answer = await rawCall(ts.url, token, body(), headers);
    expect(answer.status).toBe(200);
    expect(Code[answer.grpcStatus]).toBe(Code[code]);
    expect(answer.grpcMessage).toMatch(message);
    expect((await alice.listAgents({})).agents.length).toBeGreaterThanOrEqual(0);
  });

  it("times out a caller that never finishes sending its message", async () => {
    const answer = await rawCall(ts.url, token, envelope(listAgents).subarray(0, 3), { "grpc-timeout": "200m" }, { endRequest: false });
    expect(Code[answer.grpcStatus]).toBe(Code[Code.DeadlineExceeded]);
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
    await until(async () => (await alice.getTunnelStatus({ sessionId })).session?.state === SessionState.CLOSED, "session closed");
    agent.kill();
  });
});
