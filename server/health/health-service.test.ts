import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { registerHealth } from "./health-service.js";
import { HealthStatus, ServingStatus } from "./health-status.js";

describe("grpc.health.v1.Health", () => {
  let server: http2.Http2Server;
  const sessions = new Set<http2.ServerHttp2Session>();
  let client: ReturnType<typeof createClient<typeof Health>>;
  const health = new HealthStatus();

  beforeAll(async () => {
    health.set("", ServingStatus.SERVING);
    health.set("rmm.v1.TunnelService", ServingStatus.SERVING);
    server = http2.createServer(connectNodeAdapter({ routes: (router) => registerHealth(router, health) }));
    server.on("session", (session) => sessions.add(session));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    client = createClient(
      Health,
      createGrpcTransport({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }),
    );
  });
  afterAll(async () => {
    for (const session of sessions) session.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it("reports the whole server and each service", async () => {
    expect((await client.check({})).status).toBe(ServingStatus.SERVING);
    expect((await client.check({ service: "rmm.v1.TunnelService" })).status).toBe(ServingStatus.SERVING);
    expect(Object.keys((await client.list({})).statuses).sort()).toEqual(["", "rmm.v1.TunnelService"]);
  });

  it("answers an unknown service with NotFound naming it", async () => {
    const err = await client.check({ service: "nope" }).catch((e: unknown) => ConnectError.from(e));
    expect(err).toMatchObject({ code: Code.NotFound, rawMessage: 'unknown service "nope"' });
  });

  it("streams the current status, then changes, until the watcher cancels", async () => {
    const abort = new AbortController();
    const seen: ServingStatus[] = [];
    const watching = (async () => {
      for await (const res of client.watch({ service: "rmm.v1.TunnelService" }, { signal: abort.signal })) {
        seen.push(res.status);
        if (seen.length === 1) health.set("rmm.v1.TunnelService", ServingStatus.NOT_SERVING);
        if (seen.length === 2) abort.abort();
      }
    })().catch((e: unknown) => ConnectError.from(e).code);
    expect(await watching).toBe(Code.Canceled);
    expect(seen).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING]);
  });

  it("tells a watcher of an unknown service SERVICE_UNKNOWN", async () => {
    const abort = new AbortController();
    const seen: ServingStatus[] = [];
    const ended = await (async () => {
      for await (const res of client.watch({ service: "later" }, { signal: abort.signal })) {
        seen.push(res.status);
        abort.abort();
      }
    })().catch((e: unknown) => ConnectError.from(e).code);
    expect(ended).toBe(Code.Canceled);
    expect(seen).toEqual([ServingStatus.SERVICE_UNKNOWN]);
  });
});
