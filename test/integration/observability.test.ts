import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { downloadFile, uploadFile } from "../../client/file-transfer.js";
import { createJobClient } from "../../client/job-client.js";
import type { LogEntry } from "../../testkit/managed-process.js";
import { startFileSession, type FileSession } from "../support/file-session.js";
import { expectCode, writeRandomFile } from "../../testkit/file-fixtures.js";
import { sampleSum, scrape, type Sample } from "../support/prometheus-text.js";
import { DIALECTS } from "../../testkit/test-databases.js";
import { until } from "../support/until.js";

const TUNNEL = "rmm.v1.TunnelService";
const FILE_BYTES = 300_000;

describe.each(DIALECTS)("metrics, request ids and technician log lines on %s", (dialect) => {
  let session: FileSession;
  let metricsUrl: string;
  const serverLogs = (): LogEntry[] => session.rig.server.proc.logs;

  beforeAll(async () => {
    session = await startFileSession(dialect, {
      prefix: "rmm-obs-",
      rig: { serverExtra: ["--metrics-listen", "127.0.0.1:0"] },
    });
    const listening = serverLogs().find((e) => e.msg === "rmm-server listening");
    metricsUrl = String(listening?.metrics);
  });
  afterAll(async () => {
    await session?.stop();
  });

  it("serves /healthz, and 404s a path it does not know, naming the ones it does", async () => {
    const health = await fetch(`${metricsUrl}/healthz`);
    expect(health.status).toBe(200);
    const other = await fetch(`${metricsUrl}/nope`);
    expect(other.status).toBe(404);
    expect(await other.text()).toMatch(/\/metrics, \/healthz or \/readyz/);
  });

  it("reports the connected agent by OS and version and the open session, with no id as a label", async () => {
    const samples = await scrape(metricsUrl);
    const agents = samples.filter((s) => s.name === "rmm_agents_connected");
    expect(agents).toEqual([
      {
        name: "rmm_agents_connected",
        labels: { os: expect.stringMatching(/^linux /) as string, version: "0.1.0" },
        value: 1,
      },
    ]);
    expect(sampleSum(samples, "rmm_sessions_live")).toBe(1);
    expect(sampleSum(samples, "rmm_agent_stream_connects_total")).toBeGreaterThanOrEqual(1);
    expect(sampleSum(samples, "process_resident_memory_bytes")).toBeGreaterThan(0);
    const labelValues = samples.flatMap((s) => Object.values(s.labels));
    expect(labelValues).not.toContain(session.sessionId);
    expect(labelValues).not.toContain(session.rig.agentId);
  });

  it("moves RPC, channel and byte counters by exactly what an exec and two transfers did", async () => {
    const before = await scrape(metricsUrl);
    for await (const res of session.alice.exec({ sessionId: session.sessionId, params: { argv: ["echo", "hello"] } }))
      void res;
    const local = join(session.local, "up.bin");
    writeRandomFile(local, FILE_BYTES);
    await uploadFile(session.alice, {
      sessionId: session.sessionId,
      localPath: local,
      remotePath: join(session.root, "up.bin"),
    });
    await downloadFile(session.alice, {
      sessionId: session.sessionId,
      remotePath: join(session.root, "up.bin"),
      localPath: join(session.local, "down.bin"),
    });
    let after: Sample[] = [];
    await until(async () => {
      after = await scrape(metricsUrl);
      return sampleSum(after, "rmm_channels_open") === 0;
    }, "every channel to be counted closed");
    const delta = (name: string, labels: Record<string, string>) =>
      sampleSum(after, name, labels) - sampleSum(before, name, labels);

    expect(delta("rmm_rpc_requests_total", { service: TUNNEL, method: "Exec", code: "OK" })).toBe(1);
    expect(delta("rmm_rpc_requests_total", { service: TUNNEL, method: "Upload", code: "OK" })).toBe(1);
    expect(delta("rmm_rpc_requests_total", { service: TUNNEL, method: "Download", code: "OK" })).toBe(1);
    expect(delta("rmm_rpc_duration_seconds_count", { service: TUNNEL, method: "Exec", code: "OK" })).toBe(1);
    expect(delta("rmm_channel_relayed_bytes_total", { type: "exec", direction: "to_technician" })).toBe(
      "hello\n".length,
    );
    expect(delta("rmm_channel_relayed_bytes_total", { type: "file", direction: "to_agent" })).toBe(FILE_BYTES);
    expect(delta("rmm_channel_relayed_bytes_total", { type: "file", direction: "to_technician" })).toBe(FILE_BYTES);
    expect(delta("rmm_db_query_duration_seconds_count", { operation: "insert" })).toBeGreaterThanOrEqual(3);
  });

  it("counts a refusal under its code, returns the caller's request id and logs one line with it", async () => {
    const before = await scrape(metricsUrl);
    const requestId = `obs-test-${dialect}-1`;
    const err = await expectCode(
      session.alice.getTunnelStatus(
        { sessionId: "00000000-0000-4000-8000-000000000000" },
        { headers: { "x-request-id": requestId } },
      ),
      Code.NotFound,
    );
    // A gRPC error without messages is trailers-only: the id arrives with the status.
    expect(err.metadata.get("x-request-id")).toBe(requestId);
    const after = await scrape(metricsUrl);
    const labels = { service: TUNNEL, method: "GetTunnelStatus", code: "NOT_FOUND" };
    expect(
      sampleSum(after, "rmm_rpc_requests_total", labels) - sampleSum(before, "rmm_rpc_requests_total", labels),
    ).toBe(1);
    const line = await session.rig.server.proc.waitForLog((e) => e.requestId === requestId, "the refusal's log line");
    expect(line).toMatchObject({ technician: "alice", action: "GetTunnelStatus", code: "NotFound", level: 40 });
    expect(String(line.reason)).toMatch(/not found|no session|unknown/i);
  });

  it("writes one line per technician action with technician, agent, session, argv, path and size", async () => {
    const requestId = `obs-test-${dialect}-exec`;
    let echoed: string | null = null;
    for await (const res of session.alice.exec(
      { sessionId: session.sessionId, params: { argv: ["echo", "logged"] } },
      { headers: { "x-request-id": requestId }, onHeader: (h) => (echoed = h.get("x-request-id")) },
    ))
      void res;
    expect(echoed).toBe(requestId);
    const exec = await session.rig.server.proc.waitForLog((e) => e.requestId === requestId, "the exec's log line");
    expect(exec).toMatchObject({
      technician: "alice",
      agentId: session.rig.agentId,
      sessionId: session.sessionId,
      action: "Exec",
      argv: ["echo", "logged"],
      exitCode: 0,
      code: "ok",
    });
    const upload = await session.rig.server.proc.waitForLog(
      (e) => e.action === "Upload" && e.code === "ok",
      "the upload's log line",
    );
    expect(upload).toMatchObject({
      technician: "alice",
      agentId: session.rig.agentId,
      sessionId: session.sessionId,
      path: join(session.root, "up.bin"),
      bytes: FILE_BYTES,
    });
    expect(typeof upload?.requestId).toBe("string");
    const open = serverLogs().find((e) => e.action === "OpenTunnel" && e.code === "ok");
    expect(open).toMatchObject({ technician: "alice", agentId: session.rig.agentId, sessionId: session.sessionId });
  });

  it("counts a fleet job's step once per state it reached", async () => {
    const jobs = createJobClient(session.rig.url, await session.rig.mintToken("alice"));
    const before = await scrape(metricsUrl);
    const { job } = await jobs.createJob({
      agentIds: [session.rig.agentId],
      params: { argv: ["/bin/sh", "-c", "exit 3"] },
    });
    for await (const m of jobs.watchJob({ jobId: job!.id })) void m;
    const after = await scrape(metricsUrl);
    const delta = (state: string) =>
      sampleSum(after, "rmm_job_steps_total", { state }) - sampleSum(before, "rmm_job_steps_total", { state });
    expect(["pending", "running", "failed", "succeeded", "error"].map((s) => [s, delta(s)])).toEqual([
      ["pending", 1],
      ["running", 1],
      ["failed", 1],
      ["succeeded", 0],
      ["error", 0],
    ]);
  });

  it("counts the session gone after it closes", async () => {
    await session.alice.closeTunnel({ sessionId: session.sessionId });
    await until(async () => sampleSum(await scrape(metricsUrl), "rmm_sessions_live") === 0, "no live session");
    const close = await session.rig.server.proc.waitForLog((e) => e.action === "CloseTunnel", "the close's log line");
    expect(close).toMatchObject({
      technician: "alice",
      agentId: session.rig.agentId,
      sessionId: session.sessionId,
      code: "ok",
    });
  });
});
