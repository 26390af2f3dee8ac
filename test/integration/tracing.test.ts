import { mkdtempSync, rmSync } from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTechnicianClient } from "../../client/technician-client.js";
import { loadOrCreateSigningSecret } from "../../server/auth/signing-secret.js";
import { TokenIssuer } from "../../server/auth/token-issuer.js";
import { expectCode } from "../../testkit/file-fixtures.js";
import { startServerProcess } from "../../testkit/managed-process.js";
import { until } from "../support/until.js";

interface OtlpSpan {
  traceId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Array<{ key: string; value: { stringValue?: string; intValue?: number | string } }>;
  status?: { code?: number; message?: string };
}

/** An OTLP/HTTP collector of the test's own: it keeps every span posted to /v1/traces (JSON, as the exporter sends). */
async function startCollector(): Promise<{ url: string; spans: OtlpSpan[]; close(): Promise<void> }> {
  const spans: OtlpSpan[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.url === "/v1/traces") {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as {
          resourceSpans: Array<{ scopeSpans: Array<{ spans: OtlpSpan[] }> }>;
        };
        for (const rs of body.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

const attribute = (span: OtlpSpan | undefined, key: string) => {
  const value = span?.attributes.find((a) => a.key === key)?.value;
  return value?.stringValue ?? (value?.intValue === undefined ? undefined : Number(value.intValue));
};

describe("OpenTelemetry spans per RPC when OTEL_EXPORTER_OTLP_ENDPOINT is set", () => {
  let collector: Awaited<ReturnType<typeof startCollector>>;
  let server: Awaited<ReturnType<typeof startServerProcess>>;
  let dataDir: string;

  beforeAll(async () => {
    collector = await startCollector();
    dataDir = mkdtempSync(join(tmpdir(), "rmm-trace-"));
    // The server process inherits these; they are this test file's own (each file runs in its own process).
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = collector.url;
    process.env.OTEL_BSP_SCHEDULE_DELAY = "50";
    try {
      server = await startServerProcess({ dataDir, db: `sqlite:${join(dataDir, "rmm.sqlite")}`, logLevel: "info" });
    } finally {
      delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
      delete process.env.OTEL_BSP_SCHEDULE_DELAY;
    }
  });
  afterAll(async () => {
    await server?.proc.stop();
    await collector?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("exports a SERVER span per call, a child of the caller's traceparent, with the status code and request id", async () => {
    const token = await new TokenIssuer(
      loadOrCreateSigningSecret(dataDir).secret,
      "rmm-server",
      "rmm-api",
    ).mintTechnician("alice", "tech", 600);
    const alice = createTechnicianClient(server.url, token);
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const parentSpanId = "00f067aa0ba902b7";
    await alice.listAgents(
      {},
      { headers: { traceparent: `00-${traceId}-${parentSpanId}-01`, "x-request-id": "trace-1" } },
    );
    await expectCode(
      alice.getTunnelStatus(
        { sessionId: "00000000-0000-4000-8000-000000000000" },
        { headers: { "x-request-id": "trace-2" } },
      ),
      Code.NotFound,
    );
    await until(() => collector.spans.length >= 2, "two spans at the collector");
    const list = collector.spans.find((s) => s.name === "rmm.v1.TunnelService/ListAgents");
    expect(list).toMatchObject({ traceId, parentSpanId, kind: 2 /* SERVER */ });
    expect([
      attribute(list, "rpc.method"),
      attribute(list, "rpc.grpc.status_code"),
      attribute(list, "rmm.request_id"),
    ]).toEqual(["ListAgents", 0, "trace-1"]);
    const status = collector.spans.find((s) => s.name === "rmm.v1.TunnelService/GetTunnelStatus");
    expect(attribute(status, "rpc.grpc.status_code")).toBe(Code.NotFound);
    expect(attribute(status, "rmm.request_id")).toBe("trace-2");
    expect(status?.status).toMatchObject({
      code: 2 /* ERROR */,
      message: expect.stringMatching(/^NotFound: /) as string,
    });
  });
});
