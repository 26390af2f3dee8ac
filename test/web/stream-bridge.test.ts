import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { Code } from "@connectrpc/connect";
import { toBinary, create } from "@bufbuild/protobuf";
import { OpenChannelRequestSchema } from "../../gen/rmm/v1/tunnel_service_pb.js";
import type { BridgeEnd } from "../../common/stream-bridge-protocol.js";
import { createTestDatabase, type TestDatabase } from "../../testkit/test-databases.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/** What a bridged call answered: its closing status, or the HTTP status that refused the upgrade. */
async function bridgeCall(url: string, send: (ws: WebSocket) => void): Promise<BridgeEnd | { httpStatus: number }> {
  const ws = new WebSocket(url);
  return new Promise((resolve, reject) => {
    ws.once("unexpected-response", (_req, res) => resolve({ httpStatus: res.statusCode ?? 0 }));
    ws.once("open", () => send(ws));
    ws.on("message", (data, isBinary) => {
      if (!isBinary) resolve(JSON.parse(String(data)) as BridgeEnd);
    });
    ws.once("error", (err) => {
      if (!/Unexpected server response/.test(err.message)) reject(err);
    });
    ws.once("close", () => reject(new Error("closed without an end message")));
  });
}

// The bridge touches no store of its own; the calls it carries are tested on both dialects elsewhere.
describe("the browsers' WebSocket stream bridge", () => {
  let db: TestDatabase;
  let ts: TestServer;
  let ws: string;

  beforeAll(async () => {
    db = await createTestDatabase("sqlite");
    ts = await startTestServer(db.url);
    ws = ts.url.replace(/^http/, "ws");
  });
  afterAll(async () => {
    await ts.dispose();
    await db.drop();
  });

  const openRequest = toBinary(
    OpenChannelRequestSchema,
    create(OpenChannelRequestSchema, { kind: { case: "eof", value: {} } }),
  );

  it("runs the call through the auth interceptor: no token ends it Unauthenticated", async () => {
    const end = await bridgeCall(`${ws}/ws/rmm.v1.TunnelService/OpenChannel`, (s) => {
      s.send(JSON.stringify({ type: "open", headers: {} }));
      s.send(openRequest);
    });
    expect(end).toMatchObject({ type: "end", code: Code.Unauthenticated });
    expect((end as BridgeEnd).message).toMatch(/authorization/);
  });

  it("refuses a request message before the open message", async () => {
    const end = await bridgeCall(`${ws}/ws/rmm.v1.TunnelService/OpenChannel`, (s) => s.send(openRequest));
    expect(end).toMatchObject({ type: "end", code: Code.InvalidArgument });
    expect((end as BridgeEnd).message).toMatch(/open message/);
  });

  it("refuses a control message that is not JSON", async () => {
    const end = await bridgeCall(`${ws}/ws/rmm.v1.TunnelService/Upload`, (s) => s.send("{nope"));
    expect(end).toMatchObject({ type: "end", code: Code.InvalidArgument });
  });

  it("answers 404 for unary methods and unknown paths: only client-streaming and bidi calls are bridged", async () => {
    expect(await bridgeCall(`${ws}/ws/rmm.v1.TunnelService/ListAgents`, () => undefined)).toEqual({ httpStatus: 404 });
    expect(await bridgeCall(`${ws}/ws/nothing`, () => undefined)).toEqual({ httpStatus: 404 });
  });
});
