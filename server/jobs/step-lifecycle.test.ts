import { describe, expect, it } from "vitest";
import { createLogger } from "../../common/logger.js";
import { JobStore, migrateToLatest, openDatabase, parseDatabaseUrl } from "../store/index.js";
import { createTestDatabase } from "../../testkit/test-databases.js";
import { JobEvents, type JobEvent } from "./job-events.js";
import { isFinal, STEP_STATES, StepLifecycle, summaryOf, type LiveStep } from "./step-lifecycle.js";
import { StepWriter } from "./step-writer.js";

/** A real SQLite store with one job whose step on agent "a" is pending. */
async function rig() {
  const db = await createTestDatabase("sqlite");
  const handle = openDatabase(parseDatabaseUrl(db.url));
  await migrateToLatest(handle);
  const store = new JobStore(handle);
  await store.create(
    {
      id: "j",
      created_at: 1,
      creator: "alice",
      role: "tech",
      selector: "",
      agent_ids: "[]",
      params: "{}",
      stdin: null,
      concurrency: 1,
      timeout_ms: 1000,
      expires_at: 2,
      state: "running",
      finished_at: null,
    },
    [{ job_id: "j", agent_id: "a", hostname: "h", state: "pending", stdout_bytes: 0, stderr_bytes: 0 }],
  );
  const events = new JobEvents();
  const seen: JobEvent[] = [];
  events.subscribe("j", (e) => seen.push(e));
  const log = createLogger("test", "silent");
  const writer = new StepWriter(store, events, log);
  const close = async () => {
    await handle.destroy();
    await db.drop();
  };
  return { lifecycle: new StepLifecycle({ writer, events, log }), writer, store, events, seen, close };
}

const step = (): LiveStep => ({
  jobId: "j",
  agentId: "a",
  hostname: "h",
  state: "pending",
  startedAt: null,
  reason: null,
});

describe("job step lifecycle", () => {
  it("allows only forward moves, and final states never change", async () => {
    const { lifecycle, close } = await rig();
    for (const to of STEP_STATES.filter(isFinal)) {
      const s = step();
      if (to !== "expired" && to !== "error" && to !== "cancelled") lifecycle.transition(s, "running");
      lifecycle.transition(s, to);
      for (const again of STEP_STATES) expect(() => lifecycle.transition(s, again)).toThrow(/illegal move/);
    }
    expect(() => lifecycle.transition(step(), "succeeded")).toThrow(/pending -> succeeded/);
    expect(() => lifecycle.transition(step(), "pending")).toThrow(/illegal/);
    await close();
  });

  it("publishes a final state only once its batch is written, with the audit row completed in it", async () => {
    const { lifecycle, writer, store, seen, close } = await rig();
    const s = step();
    await store.claim([{ jobId: "j", agentId: "a", startedAt: 5, audit: auditStart }]);
    s.auditId = 1;
    lifecycle.transition(s, "running");
    expect(seen).toHaveLength(1);
    lifecycle.transition(s, "failed", { exitCode: 3, firstLine: "broken" });
    expect(seen).toHaveLength(1);
    expect(await store.step("j", "a")).toMatchObject({ state: "running" });
    await writer.flush();
    expect(await store.step("j", "a")).toMatchObject({ state: "failed", exit_code: 3, first_line: "broken" });
    expect(seen.at(-1)).toMatchObject({ type: "step", step: { state: "failed", first_line: "broken" } });
    await close();
  });

  it("writes a job's finish only with or after its last results, however many are queued", async () => {
    const { writer, store, events, close } = await rig();
    const job = (await store.get("j"))!;
    const ids = Array.from({ length: 450 }, (_, i) => `x${i}`);
    await store.create(
      { ...job, id: "k" },
      ids.map((id) => ({
        job_id: "k",
        agent_id: id,
        hostname: "h",
        state: "running" as const,
        stdout_bytes: 0,
        stderr_bytes: 0,
      })),
    );
    const order: string[] = [];
    events.subscribe("k", (e) => order.push(e.type));
    for (const id of ids)
      writer.end(
        { jobId: "k", agentId: id, from: ["running"], to: "succeeded", endedAt: 1 },
        { ...summaryOf(step(), {}), job_id: "k", agent_id: id },
      );
    writer.jobFinished("k", 9);
    await writer.flush();
    expect(order).toHaveLength(451);
    expect(order.at(-1)).toBe("finished");
    await close();
  });

  it("publishes a pending step's reason once stored, and drops one its step outran (claimed before it was written)", async () => {
    const { lifecycle, writer, store, seen, close } = await rig();
    const s = step();
    lifecycle.waiting(s, "held back: exclusive session x is open on this agent");
    await writer.flush();
    expect(await store.step("j", "a")).toMatchObject({ state: "pending", reason: s.reason });
    expect(seen.at(-1)).toMatchObject({ type: "step", step: { state: "pending", reason: s.reason } });
    lifecycle.waiting(s, "held back: exclusive session y is open on this agent");
    // The session closes and the step is claimed before that reason's batch is written.
    await store.claim([{ jobId: "j", agentId: "a", startedAt: 5, audit: auditStart }]);
    s.auditId = 1;
    lifecycle.transition(s, "running");
    lifecycle.transition(s, "succeeded", { exitCode: 0 });
    await writer.flush();
    const states = seen.flatMap((e) => (e.type === "step" ? [e.step.state] : []));
    expect(states).toEqual(["pending", "running", "succeeded"]);
    expect(await store.step("j", "a")).toMatchObject({ state: "succeeded", reason: null });
    await close();
  });

  it("starts a step once: a second claim of the same step starts nothing", async () => {
    const { store, close } = await rig();
    expect((await store.claim([{ jobId: "j", agentId: "a", startedAt: 5, audit: auditStart }])).started.size).toBe(1);
    expect((await store.claim([{ jobId: "j", agentId: "a", startedAt: 6, audit: auditStart }])).started.size).toBe(0);
    await close();
  });
});

const auditStart = {
  kind: "exec" as const,
  technician: "alice",
  role: "tech",
  agent_id: "a",
  session_id: "",
  argv: "[]",
  working_directory: "",
  started_at: 5,
  outcome: "running" as const,
  stdout_bytes: 0,
  stderr_bytes: 0,
  job_id: "j",
};
