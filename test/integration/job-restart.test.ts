import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createJobClient } from "../../client/job-client.js";
import { createTechnicianClient } from "../../client/technician-client.js";
import { JobService, StepState } from "../../gen/rmm/v1/job_service_pb.js";
import { openDatabase, parseDatabaseUrl } from "../../server/store/index.js";
import { startAgentRig, type AgentRig } from "../../testkit/agent-rig.js";
import { startServerProcess } from "../../testkit/managed-process.js";
import { DIALECTS } from "../../testkit/test-databases.js";
import { until } from "../support/until.js";

describe.each(DIALECTS)("a job across a server kill (%s)", (dialect) => {
  let rig: AgentRig;
  let marks: string;
  let restarted: Awaited<ReturnType<typeof startServerProcess>> | undefined;

  beforeAll(async () => {
    rig = await startAgentRig(dialect, { logLevel: "info" });
    marks = mkdtempSync(join(tmpdir(), "rmm-job-marks-"));
  }, 30_000);

  afterAll(async () => {
    await restarted?.proc.stop();
    await rig?.stop();
    rmSync(marks, { recursive: true, force: true });
  });

  it("marks the step that was running as error, never runs it again, and runs the pending one after the restart", async () => {
    const later = await rig.enrollAgent("later");
    const running = rig.agentId;
    const jobsBefore = createJobClient(rig.url, await rig.mintToken("alice"));
    // Each run leaves one line in a file named after its agent; the online agent's run outlives the server.
    const script = `echo ran >> ${marks}/$RMM_AGENT_ID; if [ "$RMM_AGENT_ID" = ${running} ]; then sleep 30; fi; echo done`;
    const { job } = await jobsBefore.createJob({
      agentIds: [running, later],
      params: { argv: ["/bin/sh", "-c", script] },
    });
    const jobId = job!.id;
    await until(
      async () => (await jobsBefore.getJob({ jobId })).job!.totals!.running === 1,
      "the online agent's step to run",
    );
    await until(
      () => existsSync(join(marks, running)) && readFileSync(join(marks, running), "utf8") === "ran\n",
      "the step's program to start",
    );

    await rig.server.proc.stop("SIGKILL");
    restarted = await startServerProcess({
      dataDir: rig.serverDir,
      db: rig.dbUrl,
      port: rig.server.port,
      logLevel: "info",
    });
    const jobs: Client<typeof JobService> = createJobClient(restarted.url, await rig.mintToken("alice"));
    const tunnels = createTechnicianClient(restarted.url, await rig.mintToken("alice"));
    const lost = (await jobs.getJob({ jobId })).steps.find((s) => s.agentId === running)!;
    expect(lost).toMatchObject({ state: StepState.ERROR, reason: "server restarted while running" });
    expect((await jobs.getJob({ jobId })).steps.find((s) => s.agentId === later)!.state).toBe(StepState.PENDING);
    await until(
      async () => (await tunnels.listAgents({})).agents.find((a) => a.id === running)?.online === true,
      "the first agent to reconnect to the new server",
      15_000,
    );

    await rig.runEnrolled("later");
    await until(async () => (await jobs.getJob({ jobId })).job!.finishTime !== undefined, "the job to finish", 15_000);
    const { job: done, steps } = await jobs.getJob({ jobId });
    expect(steps.find((s) => s.agentId === later)).toMatchObject({ state: StepState.SUCCEEDED, firstLine: "done" });
    expect(done!.totals).toMatchObject({ total: 2, succeeded: 1, error: 1 });
    expect(readFileSync(join(marks, running), "utf8")).toBe("ran\n");
    expect(readFileSync(join(marks, later), "utf8")).toBe("ran\n");
    const handle = openDatabase(parseDatabaseUrl(rig.dbUrl));
    try {
      const audit = await handle.selectFrom("command_audit").selectAll().where("job_id", "=", jobId).execute();
      expect(audit.map((r) => [r.agent_id, r.outcome]).sort()).toEqual(
        [
          [running, "failed"],
          [later, "completed"],
        ].sort(),
      );
    } finally {
      await handle.destroy();
    }
  }, 90_000);
});
