import { readFileSync } from "node:fs";
import { createJobClient } from "../../client/job-client.js";
import { createTechnicianClient } from "../../client/technician-client.js";
import { withBenchFleet } from "./bench-fleet.js";
import { fanOutOnce } from "./exec-fan-out.js";

/** The same short command the exec fan-out runs. */
const COMMAND = ["echo", "fan-out"];
/** Steps at once: the contract's maximum, so the job is not held back against a fan-out that starts everything at once. */
const CONCURRENCY = 1_000;
/** How often the server's RSS is read during the job. */
const RSS_SAMPLE_MS = 100;

/**
 * One job over `size` simulated agents (the real Agent and its job-step
 * runner, spawning real processes) through one real server: time from
 * CreateJob until every result is stored (WatchJob's `finished` is published
 * only after the last batch is written), the server's peak RSS meanwhile,
 * and the database rows and transactions written per step; then, on the
 * same agents and server, the exec fan-out (one tunnel per agent) it is
 * compared with.
 */
export async function fleetJob(
  store: "sqlite" | "mysql",
  size: number,
  opts: { progress?: (msg: string) => void; serverNodeArgs?: string[] } = {},
): Promise<{
  agents: number;
  storedMs: number;
  peakRssBytes: number;
  idleRssBytes: number;
  rowsPerStep: number;
  batches: number;
  succeeded: number;
  /** The exec fan-out (one tunnel per agent, tunnels already open) on the same agents and server, right after. */
  fanOutMs: number;
  fanOutFailed: number;
}> {
  const progress = opts.progress ?? (() => undefined);
  return withBenchFleet(store, size, { ...opts, name: "job" }, async ({ server, agentIds, adminToken }) => {
    const jobs = createJobClient(server.url, adminToken);
    const idleRssBytes = rssOf(server.proc.pid);
    let peakRssBytes = idleRssBytes;
    const sampler = setInterval(() => (peakRssBytes = Math.max(peakRssBytes, rssOf(server.proc.pid))), RSS_SAMPLE_MS);
    progress(`${size} agents online; one job running ${COMMAND.join(" ")} on all`);
    const mark = server.proc.logs.length;
    const t0 = performance.now();
    const { job } = await jobs.createJob({ agentIds, params: { argv: COMMAND }, concurrency: CONCURRENCY });
    let succeeded = 0;
    for await (const m of jobs.watchJob({ jobId: job!.id }))
      if (m.kind.case === "finished") succeeded = m.kind.value.totals?.succeeded ?? 0;
    const storedMs = performance.now() - t0;
    clearInterval(sampler);
    const done = await server.proc.waitForLog((e) => e.msg === "job stored", "the job's write figures", 10_000, mark);
    const reasons = new Map<string, number>();
    for (const step of (await jobs.getJob({ jobId: job!.id })).steps)
      if (step.reason) reasons.set(step.reason, (reasons.get(step.reason) ?? 0) + 1);
    if (reasons.size > 0)
      progress(`steps that did not succeed, by reason: ${JSON.stringify(Object.fromEntries(reasons))}`);
    progress(`job stored in ${Math.round(storedMs)} ms; now the exec fan-out on the same ${size} agents`);
    const tunnels = createTechnicianClient(server.url, adminToken);
    const fan = await fanOutOnce(tunnels, agentIds, progress);
    return {
      agents: size,
      storedMs,
      peakRssBytes,
      idleRssBytes,
      rowsPerStep: Number(done.rowsWritten) / size,
      batches: Number(done.batches),
      succeeded,
      fanOutMs: fan.allExitedMs,
      fanOutFailed: fan.failed,
    };
  });
}

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}
