import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { Code, ConnectError, createClient, type ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { errorInterceptor } from "../handlers/error-interceptor.js";
import { MAX_REQUEST_ID_LENGTH, requestIdFrom } from "./request-id.js";
import { rpcObserverInterceptor } from "./rpc-observer-interceptor.js";
import { ServerMetrics } from "./server-metrics.js";

/** The error a call failed with; a call that succeeded fails the test. */
async function failure(call: Promise<unknown>): Promise<ConnectError> {
  return call.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e: unknown) => ConnectError.from(e),
  );
}

describe("the observing interceptor in front of the error interceptor", () => {
  let server: http2.Http2Server;
  const sessions = new Set<http2.ServerHttp2Session>();
  const lines: Array<Record<string, unknown>> = [];
  const metrics = new ServerMetrics({ agents: () => [] });
  let client: ReturnType<typeof createClient<typeof Health>>;

  beforeAll(async () => {
    const log = pino(
      { level: "info" },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
          done();
        },
      }),
    );
    const interceptors = [
      rpcObserverInterceptor({ metrics, log, agentOfSession: () => undefined }),
      errorInterceptor(log),
    ];
    const routes = (router: ConnectRouter) =>
      router.service(Health, {
        check() {
          throw new Error("a bug with internals in it");
        },
        async *watch() {},
        list: () => ({ statuses: {} }),
      });
    server = http2.createServer(connectNodeAdapter({ routes, interceptors }));
    server.on("session", (s) => sessions.add(s));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    client = createClient(
      Health,
      createGrpcTransport({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }),
    );
  });
  afterAll(async () => {
    for (const s of sessions) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it("uses the caller's request id as the incident id, in the error and in the log", async () => {
    const err = await failure(client.check({}, { headers: { "x-request-id": "incident-42" } }));
    expect([err.code, err.rawMessage]).toEqual([Code.Internal, "internal error (incident incident-42)"]);
    expect(err.rawMessage).not.toContain("internals");
    expect(err.metadata.get("x-request-id")).toBe("incident-42");
    expect(lines.find((l) => l.incident === "incident-42")).toMatchObject({
      msg: "unexpected error",
      procedure: "grpc.health.v1.Health/Check",
    });
  });

  it("gives a call without one a fresh id, and counts the call under its code", async () => {
    const err = await failure(client.check({}));
    const id = err.metadata.get("x-request-id");
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(err.rawMessage).toBe(`internal error (incident ${id})`);
    const { body } = await metrics.scrape();
    expect(body).toMatch(
      /^rmm_rpc_requests_total\{service="grpc.health.v1.Health",method="Check",code="INTERNAL"\} 2$/m,
    );
    await client.list({});
    expect((await metrics.scrape()).body).toMatch(
      /^rmm_rpc_requests_total\{service="grpc.health.v1.Health",method="List",code="OK"\} 1$/m,
    );
  });
});

describe("requestIdFrom", () => {
  it("keeps a short printable id and replaces a long or unprintable one", () => {
    expect(requestIdFrom("abc-123")).toBe("abc-123");
    expect(requestIdFrom("x".repeat(MAX_REQUEST_ID_LENGTH + 1))).toMatch(/^[0-9a-f-]{36}$/);
    expect(requestIdFrom("two words")).toMatch(/^[0-9a-f-]{36}$/);
    expect(requestIdFrom(null)).toMatch(/^[0-9a-f-]{36}$/);
  });
});
