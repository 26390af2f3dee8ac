import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ListAgentsRequestSchema, OpenChannelRequestSchema } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { loadOrCreateSigningSecret } from "../../server/auth/signing-secret.js";
import { TokenIssuer } from "../../server/auth/token-issuer.js";
import { startServerProcess } from "../../testkit/managed-process.js";
import { createTestDatabase, type TestDatabase } from "../../testkit/test-databases.js";
import { grpcEnvelope as envelope, rawGrpcCall, type RawGrpcAnswer } from "../support/raw-grpc-call.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/**
 * The fast path (server/fast-path/) rebuilds connect-node's gRPC handling from
 * connect's @private functions; this pins down that it answers every call as
 * connect-node does, byte for byte where the bytes are deterministic: the
 * same calls go to a server with it and one started with fastPath: false.
 */
describe("the fast path answers as connect-node does", () => {
  const servers: Array<{ db: TestDatabase; ts: TestServer; token: string }> = [];
  const listAgents = toBinary(ListAgentsRequestSchema, create(ListAgentsRequestSchema, { pageSize: 10 }));
  const openChannel = envelope(
    toBinary(
      OpenChannelRequestSchema,
      create(OpenChannelRequestSchema, { kind: { case: "open", value: { sessionId: "no-such-session" } } }),
    ),
  );

  beforeAll(async () => {
    for (const fastPath of [true, false]) {
      const db = await createTestDatabase("sqlite");
      const ts = await startTestServer(db.url, { maxMessageBytes: 1024, fastPath });
      servers.push({ db, ts, token: await ts.server.issuer.mintTechnician("alice", "tech", 600) });
    }
  });
  afterAll(async () => {
    for (const { ts, db } of servers) {
      await ts.dispose();
      await db.drop();
    }
  });

  /** The same call on both servers: [fast path, connect-node]. */
  async function both(
    path: string,
    body: Uint8Array,
    headers: Record<string, string> = {},
    endRequest = true,
  ): Promise<[RawGrpcAnswer, RawGrpcAnswer]> {
    const [fast, plain] = await Promise.all(
      servers.map(({ ts, token }) => rawGrpcCall(ts.url, { path, token, body, headers, endRequest })),
    );
    return [fast!, plain!];
  }

  const LIST_AGENTS = "/rmm.v1.TunnelService/ListAgents";
  const OPEN_CHANNEL = "/rmm.v1.TunnelService/OpenChannel";
  /** Each answer's request id is fresh; that it is there on both sides is what must match. */
  const sameIds = (a: RawGrpcAnswer) =>
    a.trailers["x-request-id"] ? { ...a, trailers: { ...a.trailers, "x-request-id": "<id>" } } : a;

  it.each([
    ["a well-formed unary call", LIST_AGENTS, () => envelope(listAgents), {}],
    ["no message at all", LIST_AGENTS, () => new Uint8Array(0), {}],
    [
      "two messages on a unary call",
      LIST_AGENTS,
      () => Buffer.concat([envelope(listAgents), envelope(listAgents)]),
      {},
    ],
    ["an envelope cut short", LIST_AGENTS, () => envelope(listAgents).subarray(0, 5 + listAgents.length - 1), {}],
    ["a message flagged compressed", LIST_AGENTS, () => envelope(listAgents, 1), {}],
    ["a message over readMaxBytes", LIST_AGENTS, () => envelope(new Uint8Array(2048)), {}],
    ["a malformed grpc-timeout", LIST_AGENTS, () => envelope(listAgents), { "grpc-timeout": "soon" }],
    ["no token", LIST_AGENTS, () => envelope(listAgents), { authorization: "" }],
    ["a stream whose first message is cut short", OPEN_CHANNEL, () => openChannel.subarray(0, -1), {}],
    ["a stream message over readMaxBytes", OPEN_CHANNEL, () => envelope(new Uint8Array(2048)), {}],
    ["a channel for a session that does not exist", OPEN_CHANNEL, () => openChannel, {}],
  ] as const)(
    "%s: the same HTTP status, content type, gRPC status, message, trailers and body",
    async (_what, path, body, headers) => {
      const [fast, plain] = await both(path, body(), headers);
      expect(sameIds(fast)).toEqual(sameIds(plain));
    },
  );

  // The two deliberate differences, kept because the fast path's answer is the one the contract asks for.
  it("answers a request that is not the method's message with InvalidArgument, where connect-node says Internal", async () => {
    const [fast, plain] = await both(LIST_AGENTS, envelope(new Uint8Array([0xff, 0xff, 0xff])));
    expect({ ...fast, grpcStatus: 0, grpcMessage: "", trailers: {} }).toEqual({
      ...plain,
      grpcStatus: 0,
      grpcMessage: "",
      trailers: {},
    });
    expect([fast.grpcStatus, plain.grpcStatus]).toEqual([Code.InvalidArgument, Code.Internal]);
    expect(fast.grpcMessage).toBe(`malformed message: ${plain.grpcMessage}`);
  });

  it("answers a unary caller that stalls mid-message at its grpc-timeout (connect-node keeps waiting for the body)", async () => {
    const { ts, token } = servers[0]!;
    const answer = await rawGrpcCall(ts.url, {
      path: LIST_AGENTS,
      token,
      body: envelope(listAgents).subarray(0, 3),
      headers: { "grpc-timeout": "200m" },
      endRequest: false,
    });
    expect(answer).toMatchObject({
      status: 200,
      grpcStatus: Code.DeadlineExceeded,
      grpcMessage: "the operation timed out",
    });
  });

  it("is turned off by rmm-server serve --no-fast-path: the answers are connect-node's", async () => {
    const db = await createTestDatabase("sqlite");
    const dir = mkdtempSync(join(tmpdir(), "rmm-no-fast-path-"));
    const server = await startServerProcess({ dataDir: dir, db: db.url, extra: ["--no-fast-path"] });
    try {
      const issuer = new TokenIssuer(loadOrCreateSigningSecret(dir).secret, "rmm-server", "rmm-api");
      const answer = await rawGrpcCall(server.url, {
        path: LIST_AGENTS,
        token: await issuer.mintTechnician("alice", "tech", 600),
        body: envelope(new Uint8Array([0xff, 0xff, 0xff])),
      });
      // The one answer told apart above: connect-node's Internal, not the fast path's InvalidArgument.
      expect(answer.grpcStatus).toBe(Code.Internal);
    } finally {
      await server.proc.stop();
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
