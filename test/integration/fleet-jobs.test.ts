import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExitCode } from "../../cli/cli-error.js";
import { createJobClient } from "../../client/job-client.js";
import { createTechnicianClient } from "../../client/technician-client.js";
import { JobService, StepState, type JobStep, type WatchJobResponse } from "../../gen/rmm/v1/job_service_pb.js";
import type { TunnelService } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { openDatabase, parseDatabaseUrl } from "../../server/store/index.js";
import { startAgentRig, type AgentRig } from "../../testkit/agent-rig.js";
import { runCli } from "../support/run-cli.js";
import { DIALECTS } from "../../testkit/test-databases.js";
import { until } from "../support/until.js";

const POLICY = {
  roles: {
    tech: {
      rules: [
        { name: "not-on-locked", effect: "deny", program: "/bin/sh", agents: "tier=locked" },
        { name: "shell", effect: "allow", program: "/bin/sh" },
        { name: "anything", effect: "allow", program: "*" },
      ],
    },
  },
};

/** Everything one WatchJob stream said, folded into the last state of each step. */
async function watch(jobs: Client<typeof JobService>, jobId: string) {
  const messages: WatchJobResponse[] = [];
  for await (const m of jobs.watchJob({ jobId })) messages.push(m);
  const steps = new Map<string, JobStep>();
  for (const m of messages) {
    if (m.kind.case === "snapshot") for (const s of m.kind.value.steps) steps.set(s.agentId, s);
    if (m.kind.case === "step") steps.set(m.kind.value.agentId, m.kind.value);
  }
  return { messages, steps };
}

const summary = (steps: Map<string, JobStep>) =>
  Object.fromEntries(
    [...steps.values()].map((s) => [s.agentId, { state: StepState[s.state], exit: s.exitCode, reason: s.reason }]),
  );

describe.each(DIALECTS)("fleet jobs (%s)", (dialect) => {
  let rig: AgentRig;
  let policyDir: string;
  let jobs: Client<typeof JobService>;
  let tunnels: Client<typeof TunnelService>;
  let admin: Client<typeof TunnelService>;
  const ids: Record<"ok" | "fails" | "locked" | "slow" | "plain" | "late", string> = {
    ok: "",
    fails: "",
    locked: "",
    slow: "",
    plain: "",
    late: "",
  };

  beforeAll(async () => {
    policyDir = mkdtempSync(join(tmpdir(), "rmm-jobs-policy-"));
    writeFileSync(join(policyDir, "policy.json"), JSON.stringify(POLICY));
    rig = await startAgentRig(dialect, { serverExtra: ["--policy", join(policyDir, "policy.json")], logLevel: "info" });
    const start = async (name: string, ...labels: string[]) =>
      (
        await rig.startAgent(
          name,
          labels.flatMap((l) => ["--label", l]),
        )
      ).agentId;
    // Independent processes, enrolled and started side by side; every start settles before the hook
    // ends, so a failed one leaves none still starting.
    const starts: Array<[keyof typeof ids, Promise<string>]> = [
      ["ok", start("ok", "fleet=t", "role=web")],
      ["fails", start("fails", "fleet=t")],
      ["locked", start("locked", "fleet=t", "tier=locked")],
      ["slow", start("slow", "fleet=t")],
      ["plain", start("plain", "fleet=t", "env=prod")],
      ["late", rig.enrollAgent("late")],
    ];
    const settled = await Promise.allSettled(starts.map(([, p]) => p));
    settled.forEach((r, i) => {
      if (r.status === "rejected") throw r.reason;
      ids[starts[i]![0]] = r.value;
    });
    jobs = createJobClient(rig.url, await rig.mintToken("alice", "tech"));
    tunnels = createTechnicianClient(rig.url, await rig.mintToken("alice", "tech"));
    admin = createTechnicianClient(rig.url, await rig.mintToken("root", "admin"));
    // The offline agent has never reported labels: an admin labels it on the server.
    await admin.setAgentLabels({ agentId: ids.late, set: { fleet: "t" } });
  }, 60_000);

  afterAll(async () => {
    await rig?.stop();
    rmSync(policyDir, { recursive: true, force: true });
  });

  it("selects agents by labels, server-side ones included, and refuses bad selectors precisely", async () => {
    const page = await tunnels.listAgents({ selector: "fleet=t,role!=web,tier notin (locked),!env" });
    expect(page.agents.map((a) => a.id).sort()).toEqual([ids.fails, ids.slow, ids.late].sort());
    const late = page.agents.find((a) => a.id === ids.late)!;
    expect(late).toMatchObject({ labels: { fleet: "t" }, serverLabels: { fleet: "t" }, reportedLabels: {} });
    const err = await tunnels.listAgents({ selector: "fleet=t,,x" }).catch((e: unknown) => ConnectError.from(e));
    expect(err).toMatchObject({ code: Code.InvalidArgument });
    expect((err as ConnectError).rawMessage).toMatch(/at character 9/);
    const denied = await tunnels
      .setAgentLabels({ agentId: ids.ok, set: { x: "y" } })
      .catch((e: unknown) => ConnectError.from(e));
    expect(denied).toMatchObject({ code: Code.PermissionDenied });
  });

  it("runs one job over six agents: offline caught up, non-zero exit, policy refusal, timeout", async () => {
    const script = `case "$RMM_AGENT_ID" in ${ids.fails}) echo broken >&2; exit 3;; ${ids.slow}) sleep 30;; esac; echo "hello from $RMM_AGENT_ID"`;
    const { job } = await jobs.createJob({
      selector: "fleet=t",
      params: { argv: ["/bin/sh", "-c", script] },
      timeout: { seconds: 2n },
    });
    const early = watch(jobs, job!.id);
    expect(job!.totals?.total).toBe(6);
    await until(
      async () => {
        const { job: j } = await jobs.getJob({ jobId: job!.id });
        return j!.totals!.pending === 1 && j!.totals!.running === 0;
      },
      "every online agent's step to end",
      20_000,
    );
    const before = await jobs.getJob({ jobId: job!.id });
    const lateStep = before.steps.find((s) => s.agentId === ids.late)!;
    expect(lateStep).toMatchObject({ state: StepState.PENDING, reason: "waiting for the agent to connect" });

    await rig.runEnrolled("late");
    const first = await early;
    const last = await watch(jobs, job!.id);
    expect(summary(last.steps)).toEqual(summary(first.steps));
    expect(first.messages.at(-1)?.kind.case).toBe("finished");
    const steps = first.steps;
    expect(steps.get(ids.ok)).toMatchObject({
      state: StepState.SUCCEEDED,
      exitCode: 0,
      firstLine: `hello from ${ids.ok}`,
    });
    expect(steps.get(ids.plain)).toMatchObject({ state: StepState.SUCCEEDED });
    expect(steps.get(ids.late)).toMatchObject({ state: StepState.SUCCEEDED, firstLine: `hello from ${ids.late}` });
    expect(steps.get(ids.fails)).toMatchObject({ state: StepState.FAILED, exitCode: 3, firstLine: "broken" });
    expect(steps.get(ids.locked)).toMatchObject({ state: StepState.ERROR });
    expect(steps.get(ids.locked)!.reason).toMatch(/not-on-locked/);
    expect(steps.get(ids.slow)).toMatchObject({ state: StepState.TIMED_OUT });
    const { job: done } = await jobs.getJob({ jobId: job!.id });
    expect(done!.totals).toMatchObject({ total: 6, succeeded: 3, failed: 1, error: 1, timedOut: 1, pending: 0 });
    expect(done!.finishTime).toBeDefined();

    const handle = openDatabase(parseDatabaseUrl(rig.dbUrl));
    try {
      const audit = await handle.selectFrom("command_audit").selectAll().where("job_id", "=", job!.id).execute();
      expect(audit).toHaveLength(6);
      expect(audit.find((r) => r.agent_id === ids.locked)).toMatchObject({
        outcome: "refused",
        policy_rule: "not-on-locked",
      });
      expect(audit.find((r) => r.agent_id === ids.fails)).toMatchObject({ outcome: "completed", exit_code: 3 });
      expect(audit.find((r) => r.agent_id === ids.slow)).toMatchObject({ outcome: "timed_out" });
      const created = await handle.selectFrom("audit_events").selectAll().where("action", "=", "job.create").execute();
      expect(created.some((e) => e.actor === "tech:alice" && e.reason?.includes(job!.id))).toBe(true);
    } finally {
      await handle.destroy();
    }
  }, 60_000);

  it("cancel stops running steps, and no pending step runs after it", async () => {
    const { job } = await jobs.createJob({
      selector: "fleet=t,tier!=locked",
      params: { argv: ["sleep", "30"] },
      concurrency: 2,
    });
    await until(async () => (await jobs.getJob({ jobId: job!.id })).job!.totals!.running === 2, "two steps to run");
    const { job: cancelled } = await jobs.cancelJob({ jobId: job!.id });
    expect(cancelled!.totals!.pending).toBe(0);
    const { steps } = await watch(jobs, job!.id);
    expect([...steps.values()].every((s) => s.state === StepState.CANCELLED)).toBe(true);
    expect([...steps.values()].filter((s) => s.startTime !== undefined)).toHaveLength(2);
  }, 30_000);

  it("runs a job step on an agent whose tunnel a technician holds, and both work", async () => {
    const { session } = await tunnels.openTunnel({ agentId: ids.ok });
    const { job } = await jobs.createJob({
      agentIds: [ids.ok],
      params: { argv: ["/bin/sh", "-c", "sleep 1; echo step done"] },
    });
    await until(async () => (await jobs.getJob({ jobId: job!.id })).job!.totals!.running === 1, "the step to run");
    let out = "";
    for await (const m of tunnels.exec({ sessionId: session!.id, params: { argv: ["echo", "tunnel works"] } }))
      if (m.kind.case === "output") out += Buffer.from(m.kind.value.data).toString();
    expect(out).toBe("tunnel works\n");
    const { steps } = await watch(jobs, job!.id);
    expect(steps.get(ids.ok)).toMatchObject({ state: StepState.SUCCEEDED, firstLine: "step done" });
    await tunnels.closeTunnel({ sessionId: session!.id });
  }, 30_000);

  it("keeps output over 128 KiB as its first and last 64 KiB, with the true byte count", async () => {
    const { job } = await jobs.createJob({
      agentIds: [ids.plain],
      params: { argv: ["/bin/sh", "-c", "printf START; head -c 300000 /dev/zero | tr '\\0' x; printf END"] },
    });
    await watch(jobs, job!.id);
    const { stdout, step } = await jobs.getJobStepOutput({ jobId: job!.id, agentId: ids.plain });
    expect(step!.state).toBe(StepState.SUCCEEDED);
    expect(stdout!.totalBytes).toBe(300_008n);
    expect(stdout!.truncated).toBe(true);
    expect(stdout!.head.length).toBe(65_536);
    expect(stdout!.tail.length).toBe(65_536);
    expect(Buffer.from(stdout!.head.subarray(0, 6)).toString()).toBe("STARTx");
    expect(Buffer.from(stdout!.tail.subarray(-4)).toString()).toBe("xEND");
  }, 30_000);

  it("rmm run prints a row per agent and exits 1 when any step did not succeed; rmm job and rmm agents -l follow", async () => {
    const env = { XDG_CONFIG_HOME: policyDir, RMM_SERVER: rig.url, RMM_TOKEN: await rig.mintToken("alice", "tech") };
    const script = `case "$RMM_AGENT_ID" in ${ids.fails}) echo broken >&2; exit 3;; ${ids.slow}) sleep 30;; esac; echo "nginx active"`;
    // --expire 0: the late agent runs it if an earlier test brought it online, else its step expires at once.
    const r = await runCli(
      ["run", "-l", "fleet=t", "--timeout", "2s", "--expire", "0", "--", "/bin/sh", "-c", script],
      {
        env,
      },
    );
    if (process.env.RMM_SHOW_CLI) process.stdout.write(r.stdout);
    expect(r.code, r.stderr).toBe(ExitCode.Failure);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^AGENT\s+ID\s+STATE\s+EXIT\s+DURATION\s+OUTPUT$/);
    expect(lines.filter((l) => / succeeded +0 .*nginx active$/.test(l)).length).toBeGreaterThanOrEqual(2);
    expect(lines.some((l) => / failed +3 .*broken$/.test(l))).toBe(true);
    expect(lines.some((l) => / timed_out /.test(l))).toBe(true);
    expect(lines.some((l) => / error .*not-on-locked/.test(l))).toBe(true);
    expect(lines.at(-1)).toMatch(
      /: 6 agents: [23] succeeded, 1 failed, 1 error, 1 timed out, 0 cancelled, [01] expired/,
    );
    const jobId = /^job (\S+):/.exec(lines.at(-1)!)![1]!;

    const ok = await runCli(["run", "--agent", ids.ok, "--json", "--", "echo", "hi"], { env });
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout.trim())).toMatchObject({
      agentId: ids.ok,
      state: "succeeded",
      exitCode: 0,
      firstLine: "hi",
    });

    const show = await runCli(["job", "show", jobId, "--output", ids.fails], { env });
    expect(show).toMatchObject({ code: 0, stdout: "", stderr: "broken\n" });
    const listed = await runCli(["jobs"], { env });
    expect(listed.stdout).toContain(jobId);
    const watched = await runCli(["job", "watch", jobId, "--json"], { env });
    expect(watched.code).toBe(ExitCode.Failure);
    expect(watched.stdout.trim().split("\n")).toHaveLength(6);
    const agents = await runCli(["agents", "-l", "role=web", "--json"], { env });
    expect(JSON.parse(agents.stdout).map((a: { id: string }) => a.id)).toEqual([ids.ok]);
    const bad = await runCli(["run", "-l", "fleet in (t", "--", "true"], { env });
    expect(bad.code).toBe(ExitCode.InvalidArgument);
    expect(bad.stderr).toMatch(/^rmm: selector .*at character 12\n$/);
  }, 60_000);
});
