import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createJobClient } from "../../client/job-client.js";
import { createTechnicianClient } from "../../client/technician-client.js";
import { JobService, StepState, type JobStep } from "../../gen/rmm/v1/job_service_pb.js";
import { SessionState, type TunnelService } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { startAgentRig, type AgentRig } from "../../testkit/agent-rig.js";
import { DIALECTS } from "../../testkit/test-databases.js";
import { until } from "../support/until.js";

/**
 * Every state a WatchJob stream reported for the agent's step, in order, until the job finished;
 * `afterSnapshot` runs once the snapshot is read, so what it causes arrives as events.
 */
async function watchStates(
  jobs: Client<typeof JobService>,
  jobId: string,
  agentId: string,
  afterSnapshot: () => Promise<unknown> = async () => undefined,
) {
  const seen: JobStep[] = [];
  let finished = false;
  for await (const m of jobs.watchJob({ jobId })) {
    if (m.kind.case === "snapshot") seen.push(...m.kind.value.steps.filter((s) => s.agentId === agentId));
    if (m.kind.case === "snapshotDone") await afterSnapshot();
    if (m.kind.case === "step" && m.kind.value.agentId === agentId) seen.push(m.kind.value);
    if (m.kind.case === "finished") finished = true;
  }
  return { seen, finished };
}

describe.each(DIALECTS)("job steps and exclusive sessions (%s)", (dialect) => {
  let rig: AgentRig;
  let agentId: string;
  let markers: string;
  let jobs: Client<typeof JobService>;
  let tunnels: Client<typeof TunnelService>;

  beforeAll(async () => {
    markers = mkdtempSync(join(tmpdir(), "rmm-gate-"));
    rig = await startAgentRig(dialect, { logLevel: "info" });
    agentId = rig.agentId;
    jobs = createJobClient(rig.url, await rig.mintToken("alice", "tech"));
    tunnels = createTechnicianClient(rig.url, await rig.mintToken("bob", "tech"));
  }, 60_000);

  afterAll(async () => {
    await rig?.stop();
    rmSync(markers, { recursive: true, force: true });
  });

  it("an exclusive session holds a new step pending, saying why, and it runs once the session closes", async () => {
    const marker = join(markers, "held");
    const { session } = await tunnels.openTunnel({ agentId, exclusive: true });
    const held = `held back: exclusive session ${session!.id} is open on this agent`;
    const { job } = await jobs.createJob({ agentIds: [agentId], params: { argv: ["touch", marker] } });

    await until(
      async () => (await jobs.getJob({ jobId: job!.id })).steps[0]?.reason === held,
      "GetJob to say the step is held back by the exclusive session",
    );
    const { job: waiting, steps } = await jobs.getJob({ jobId: job!.id });
    expect(steps).toHaveLength(1);
    expect(steps[0]).toMatchObject({ agentId, state: StepState.PENDING, reason: held });
    expect(steps[0]!.startTime).toBeUndefined();
    expect(waiting!.totals).toMatchObject({ total: 1, pending: 1, running: 0 });
    // The step is held, not slow: nothing ran on the agent.
    expect(existsSync(marker)).toBe(false);

    const { seen, finished } = await watchStates(jobs, job!.id, agentId, () =>
      tunnels.closeTunnel({ sessionId: session!.id }),
    );
    expect(finished).toBe(true);
    expect(seen[0]).toMatchObject({ state: StepState.PENDING, reason: held });
    expect(seen.map((s) => StepState[s.state])).toEqual(["PENDING", "RUNNING", "SUCCEEDED"]);
    expect(seen.at(-1)).toMatchObject({ state: StepState.SUCCEEDED, exitCode: 0, reason: "" });
    expect(existsSync(marker)).toBe(true);
  }, 30_000);

  it("a step created just before its exclusive session closes still runs, and watchers never see it go back to pending", async () => {
    const marker = join(markers, "quick");
    const { session } = await tunnels.openTunnel({ agentId, exclusive: true });
    const { job } = await jobs.createJob({ agentIds: [agentId], params: { argv: ["touch", marker] } });
    // Closed at once: the held-back reason may still be on its way to the database.
    const { seen, finished } = await watchStates(jobs, job!.id, agentId, () =>
      tunnels.closeTunnel({ sessionId: session!.id }),
    );
    expect(finished).toBe(true);
    const states = seen.map((s) => StepState[s.state]);
    expect(states.at(-1)).toBe("SUCCEEDED");
    expect(states.slice(states.indexOf("RUNNING"))).toEqual(["RUNNING", "SUCCEEDED"]);
    expect(existsSync(marker)).toBe(true);
  }, 30_000);

  it("a non-exclusive session does not hold a step back", async () => {
    const marker = join(markers, "shared");
    const { session } = await tunnels.openTunnel({ agentId });
    try {
      const { job } = await jobs.createJob({ agentIds: [agentId], params: { argv: ["touch", marker] } });
      const { seen, finished } = await watchStates(jobs, job!.id, agentId);
      expect(finished).toBe(true);
      expect(seen.at(-1)).toMatchObject({ state: StepState.SUCCEEDED, exitCode: 0 });
      expect(seen.some((s) => s.reason.includes("held back"))).toBe(false);
      expect(existsSync(marker)).toBe(true);
      // The session was never in the way: it is still open and serves the technician.
      const { session: still } = await tunnels.getTunnelStatus({ sessionId: session!.id });
      expect(still!.state).toBe(SessionState.ACTIVE);
    } finally {
      await tunnels.closeTunnel({ sessionId: session!.id });
    }
  }, 30_000);
});
