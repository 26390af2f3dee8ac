import * as http2 from "node:http2";
import * as net from "node:net";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentService } from "../../gen/rmm/v1/agent_service_pb.js";
import { SessionState } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { MAX_STREAMS_PER_CONNECTION } from "../../server/listener.js";
import { FakeAgent } from "../support/fake-agent.js";
import { grpcEnvelope, rawGrpcCall } from "../support/raw-grpc-call.js";
import { TcpProxy } from "../support/tcp-proxy.js";
import { createTestDatabase, type TestDatabase } from "../../testkit/test-databases.js";
import { startTestServer, type TestServer } from "../support/test-server.js";
import { until } from "../support/until.js";

describe("connections the server holds", () => {
  let db: TestDatabase;
  let ts: TestServer;

  beforeAll(async () => {
    db = await createTestDatabase("sqlite");
    ts = await startTestServer(db.url, { idleConnectionMs: 300 });
  });
  afterAll(async () => {
    await ts.dispose();
    await db.drop();
  });

  it("closes HTTP/2 connections that never open a stream, and sockets that never send a byte", async () => {
    const sessions = Array.from({ length: 50 }, () => http2.connect(ts.url));
    const sockets = Array.from({ length: 50 }, () => net.connect(ts.server.port, "127.0.0.1"));
    const closed = new Set<object>();
    for (const s of [...sessions, ...sockets]) {
      s.on("error", () => undefined);
      s.once("close", () => closed.add(s));
    }
    try {
      await until(() => closed.size === 100, "every idle connection to be closed");
    } finally {
      for (const s of sessions) s.destroy();
      for (const s of sockets) s.destroy();
    }
  });

  it("announces a cap on concurrent streams per connection", async () => {
    const session = http2.connect(ts.url);
    try {
      const settings = await new Promise<http2.Settings>((resolve) => session.once("remoteSettings", resolve));
      expect(settings.maxConcurrentStreams).toBe(MAX_STREAMS_PER_CONNECTION);
    } finally {
      session.destroy();
    }
  });

  it("answers an unknown gRPC method with UNIMPLEMENTED, and an unknown Connect path with 404", async () => {
    const answer = await rawGrpcCall(ts.url, {
      path: "/rmm.v1.NoSuchService/Nothing",
      token: "x",
      body: grpcEnvelope(new Uint8Array()),
    });
    expect(answer.status).toBe(200);
    expect(Code[answer.grpcStatus]).toBe(Code[Code.Unimplemented]);
    expect(answer.grpcMessage).toMatch(/no method \/rmm\.v1\.NoSuchService\/Nothing/);
    const connect = await fetch(`${ts.url}/rmm.v1.NoSuchService/Nothing`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(connect.status).toBe(404);
  });
});

describe("an agent that freezes", () => {
  let db: TestDatabase;
  let ts: TestServer;
  let proxy: TcpProxy;

  beforeAll(async () => {
    db = await createTestDatabase("sqlite");
    ts = await startTestServer(db.url);
    proxy = new TcpProxy({ host: "127.0.0.1", port: ts.server.port });
    await proxy.start();
  });
  afterAll(async () => {
    await proxy.cut();
    await ts.dispose();
    await db.drop();
  });

  it("is cut by the server's PINGs, and its technician is told it missed heartbeats", async () => {
    const client = createClient(AgentService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${proxy.port}` }));
    const identity = await FakeAgent.enroll(ts.agentClient(), await ts.server.issuer.mintEnrollment(600));
    const agent = FakeAgent.connect(client, identity);
    await agent.waitFor("helloAck");
    const alice = await ts.technician("alice");
    const session = (await alice.openTunnel({ agentId: identity.agentId })).session!;
    expect(proxy.upstreams.size).toBe(1);
    proxy.freeze();
    await until(() => proxy.upstreams.size === 0, "the server to cut the frozen agent's connection");
    const status = (await alice.getTunnelStatus({ sessionId: session.id })).session!;
    expect(SessionState[status.state]).toBe("CLOSED");
    expect(status.closeMessage).toMatch(/^agent missed its heartbeats \(silent for \d+ s\): frozen or cut off/);
    agent.kill();
  });

  it("says the stream ended when the agent hangs up instead", async () => {
    const identity = await FakeAgent.enroll(ts.agentClient(), await ts.server.issuer.mintEnrollment(600));
    const agent = FakeAgent.connect(ts.agentClient(), identity);
    await agent.waitFor("helloAck");
    const alice = await ts.technician("alice");
    const session = (await alice.openTunnel({ agentId: identity.agentId })).session!;
    agent.kill();
    await until(
      async () => (await alice.getTunnelStatus({ sessionId: session.id })).session!.state === SessionState.CLOSED,
      "the session to close",
    );
    expect((await alice.getTunnelStatus({ sessionId: session.id })).session!.closeMessage).toBe("agent stream ended");
  });
});
