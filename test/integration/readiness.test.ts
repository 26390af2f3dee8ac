import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { PrivateMariaDb } from "../support/private-mariadb.js";
import { startTestServer, type TestServer } from "../support/test-server.js";
import { until } from "../support/until.js";

/** Readiness is re-checked this often here, so the test waits milliseconds for grpc.health.v1 to follow. */
const READINESS_INTERVAL_MS = 100;
/** mysql2 gives up on a dead port at once, but a check may wait on a half-dead pool; allow for it. */
const OUTAGE_SEEN_MS = 15_000;

describe("readiness while the database goes away and comes back", () => {
  let mariadb: PrivateMariaDb;
  let server: TestServer;
  let metricsUrl: string;
  let health: ReturnType<typeof createClient<typeof Health>>;

  beforeAll(async () => {
    mariadb = await PrivateMariaDb.create();
    server = await startTestServer(await mariadb.createDatabase(), {
      metricsListen: { host: "127.0.0.1", port: 0 },
      readinessIntervalMs: READINESS_INTERVAL_MS,
    });
    metricsUrl = server.server.metricsUrl!;
    health = createClient(Health, createGrpcTransport({ baseUrl: server.url }));
  }, 60_000);
  afterAll(async () => {
    await server?.dispose();
    await mariadb?.dispose();
  });

  const readyz = async () => {
    const res = await fetch(`${metricsUrl}/readyz`);
    return { status: res.status, body: await res.text() };
  };
  const grpcStatus = async () => (await health.check({ service: "rmm.v1.TunnelService" })).status;

  it("is ready with the database up and every migration applied", async () => {
    expect(await readyz()).toEqual({ status: 200, body: "ready\ndatabase: ok\n" });
    expect(await grpcStatus()).toBe(ServingStatus.SERVING);
    expect((await fetch(`${metricsUrl}/healthz`)).status).toBe(200);
  });

  it("turns unready in /readyz and grpc.health.v1 when the database dies, while /healthz stays up", async () => {
    await mariadb.kill();
    const answer = await readyz();
    expect(answer.status).toBe(503);
    expect(answer.body).toMatch(/^not ready\ndatabase: failed: /);
    await until(
      async () => (await grpcStatus()) === ServingStatus.NOT_SERVING,
      "gRPC health NOT_SERVING",
      OUTAGE_SEEN_MS,
    );
    expect((await fetch(`${metricsUrl}/healthz`)).status).toBe(200);
  }, 30_000);

  it("is ready again once the database is back", async () => {
    await mariadb.start();
    await until(async () => (await readyz()).status === 200, "/readyz to answer 200", OUTAGE_SEEN_MS);
    await until(async () => (await grpcStatus()) === ServingStatus.SERVING, "gRPC health SERVING", OUTAGE_SEEN_MS);
  }, 60_000);
});
