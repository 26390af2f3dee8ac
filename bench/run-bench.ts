/**
 * The benchmark suite: `npm run bench` (a few minutes) or `npm run bench -- --full`.
 * Every figure is printed beside a bare baseline measured in this same run,
 * as a ratio, because absolute figures on a shared machine drift. Writes
 * bench/results/latest.json.
 *
 *   --full             1k/5k/10k agents, 512 MiB throughput, exec on 500 agents, 1 GiB files, a job on 5k agents, more samples
 *   --only a,b         run some of: echo, forward, cycles, exec, files, endpoint, packaged, fleet, jobs, cluster
 *   --stores a,b       sqlite, mysql (default both where a store is involved)
 *   --job-agents N     the jobs scenario's fleet size (default 1,000; 5,000 with --full)
 *   --cpu-prof DIR     every rmm-server (and tunnel rmm-agent) process writes a V8 CPU profile into DIR
 *   --no-fast-path     the echo, files and fleet servers run `rmm-server serve --no-fast-path` (connect-node only)
 *
 * Order: echo and throughput first, while the machine is cool (the fleet
 * scenarios leave it hot for minutes), each the median of 3 runs that
 * alternate with their baselines, so drift hits both sides alike.
 */
import { parseArgs } from "node:util";
import { holdIdleStreams, measureEchoRtt, measureThroughput, measureUnaryRtt } from "./baselines/baseline-client.js";
import { bareSpawn } from "./baselines/bare-spawn.js";
import { startBaseline } from "./baselines/spawn-baseline.js";
import { entry, markdownTable, writeResults, type BenchEntry } from "./bench-result.js";
import { endpointFigures } from "./scenarios/endpoint.js";
import { execFanOut } from "./scenarios/exec-fan-out.js";
import { fileTransfer } from "./scenarios/file-transfer.js";
import { clusterEcho } from "./scenarios/cluster-echo.js";
import { clusterFleet, clusterNodesFor } from "./scenarios/cluster-fleet.js";
import { fleetJob } from "./scenarios/fleet-job.js";
import { packagedAgentFigures } from "./scenarios/packaged-agent.js";
import { idleFleet } from "./scenarios/idle-fleet.js";
import { portForward } from "./scenarios/port-forward.js";
import { tunnelCycles } from "./scenarios/tunnel-cycles.js";
import { tunnelEcho } from "./scenarios/tunnel-echo.js";
import { serverNodeArgs } from "./server-node-args.js";
import type { Dialect } from "../testkit/test-databases.js";

const { values } = parseArgs({
  options: {
    full: { type: "boolean", default: false },
    only: { type: "string" },
    stores: { type: "string", default: "sqlite,mysql" },
    "cpu-prof": { type: "string" },
    "job-agents": { type: "string" },
    "no-fast-path": { type: "boolean", default: false },
  },
});
const full = values.full;
const only = new Set((values.only ?? "echo,forward,cycles,exec,files,endpoint,packaged,fleet,jobs,cluster").split(","));
const nodeArgs = serverNodeArgs(values["cpu-prof"]);
/** Server flags for the scenarios that measure the transport (echo, files, fleet). */
const serverExtra = values["no-fast-path"] ? ["--no-fast-path"] : [];
/** Echo and throughput runs, alternating with the baselines; the median is reported. */
const ECHO_RUNS = 3;
const stores = values.stores.split(",") as Dialect[];
const plan = {
  fleetSizes: full ? [1_000, 5_000, 10_000] : [1_000],
  cycles: full ? 1_000 : 200,
  roundTrips: full ? 5_000 : 2_000,
  totalBytes: (full ? 512 : 128) * 1024 * 1024,
  fanOut: full ? 500 : 200,
  jobAgents: values["job-agents"] ? Number(values["job-agents"]) : full ? 5_000 : 1_000,
  fileBytes: (full ? 1024 : 256) * 1024 * 1024,
  forwardConnections: 500,
  /** Agents of the cluster scenario (nodes on one port, MySQL and NATS; see clusterNodesFor): past what one process holds with --full. */
  clusterAgents: full ? 50_000 : 3_000,
};
const progress = (msg: string) => process.stderr.write(`# ${msg}\n`);
const KiB = 1024;
const entries: BenchEntry[] = [];
/** Bare connect-node 1-hop throughput, when the echo scenario ran: what file transfer is compared with. */
let bareConnectMBps: number | null = null;
/** The bare process holding one HTTP/2 stream, when the endpoint scenario ran: what the packaged agent is compared with. */
let bareHttp2HolderRss: number | null = null;
/**
 * Runs one scenario if it was asked for. A scenario that throws is reported as
 * a failed entry and the run goes on: one broken scenario must not lose the
 * figures of the others.
 */
async function scenario(name: string, run: () => Promise<void>): Promise<void> {
  if (!only.has(name)) return;
  try {
    await run();
  } catch (err) {
    progress(`scenario ${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    entries.push({
      name: `scenario ${name} failed: ${err instanceof Error ? err.message : String(err)}`,
      value: 0,
      unit: "",
      baseline: null,
      ratio: null,
      target: "completes",
      met: false,
    });
  }
}
const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

await scenario("echo", async () => {
  type Kind = "connect" | "grpcjs" | "tcp";
  const bare: Record<Kind, { p50Us: number[]; mbPerSec: number[] }> = {
    connect: { p50Us: [], mbPerSec: [] },
    grpcjs: { p50Us: [], mbPerSec: [] },
    tcp: { p50Us: [], mbPerSec: [] },
  };
  const tunnel = { p50Us: [] as number[], p99Us: [] as number[], mbPerSec: [] as number[] };
  for (let run = 1; run <= ECHO_RUNS; run++) {
    progress(`run ${run}/${ECHO_RUNS}: bare baselines, 1-hop echo round trip and throughput`);
    for (const kind of ["connect", "grpcjs", "tcp"] as const) {
      const server = await startBaseline(kind);
      try {
        const { p50Us } = await measureEchoRtt(kind, server.port, { samples: plan.roundTrips, payloadBytes: 64 });
        const { mbPerSec } = await measureThroughput(kind, server.port, {
          totalBytes: plan.totalBytes,
          chunkBytes: 64 * KiB,
        });
        bare[kind].p50Us.push(p50Us);
        bare[kind].mbPerSec.push(mbPerSec);
        // Each run's figures, not only the medians: on a shared machine the spread is part of the result.
        progress(`run ${run}/${ECHO_RUNS}: bare ${kind}: echo p50 ${p50Us.toFixed(0)} us, ${mbPerSec.toFixed(1)} MB/s`);
      } finally {
        await server.stop();
      }
    }
    progress(
      `run ${run}/${ECHO_RUNS}: tunnel, ${plan.roundTrips} round trips, ${plan.totalBytes / KiB / KiB} MiB through an echo channel`,
    );
    const r = await tunnelEcho({
      roundTrips: plan.roundTrips,
      totalBytes: plan.totalBytes,
      serverNodeArgs: nodeArgs,
      serverExtra,
    });
    tunnel.p50Us.push(r.p50Us);
    tunnel.p99Us.push(r.p99Us);
    tunnel.mbPerSec.push(r.mbPerSec);
    progress(
      `run ${run}/${ECHO_RUNS}: tunnel: echo p50 ${r.p50Us.toFixed(0)} us, p99 ${r.p99Us.toFixed(0)} us, ${r.mbPerSec.toFixed(1)} MB/s`,
    );
  }
  const tput = median(tunnel.mbPerSec);
  bareConnectMBps = median(bare.connect.mbPerSec);
  entries.push(
    entry(
      `echo round trip p50 through the tunnel (2 hops) vs bare connect-node 1 hop, median of ${ECHO_RUNS}`,
      median(tunnel.p50Us),
      "us",
      median(bare.connect.p50Us),
      { kind: "ratio-max", limit: 2 },
    ),
    entry("echo round trip p99 through the tunnel", median(tunnel.p99Us), "us", null),
    entry(
      `tunnel throughput, 64 KiB chunks, 1 MiB in flight, vs bare connect-node 1 hop, median of ${ECHO_RUNS}`,
      tput,
      "MB/s",
      median(bare.connect.mbPerSec),
      { kind: "ratio-min", limit: 0.6 },
    ),
    entry("tunnel throughput vs bare grpc-js 1 hop", tput, "MB/s", median(bare.grpcjs.mbPerSec)),
    entry("tunnel throughput vs raw TCP loopback", tput, "MB/s", median(bare.tcp.mbPerSec)),
  );
});

await scenario("forward", async () => {
  const mib = plan.totalBytes / KiB / KiB;
  progress(
    `port forward: ${mib} MiB through rmm forward to a TCP echo beside the agent, then ${plan.forwardConnections} sequential connections`,
  );
  const r = await portForward({
    totalBytes: plan.totalBytes,
    connections: plan.forwardConnections,
    serverNodeArgs: nodeArgs,
  });
  entries.push(
    entry(
      `forwarded TCP connection throughput, ${mib} MiB echoed, vs raw TCP loopback`,
      r.forwardMBps,
      "MB/s",
      r.rawTcpMBps,
    ),
    entry(
      "forwarded TCP connection throughput vs a tunnel echo channel, same rig",
      r.forwardMBps,
      "MB/s",
      r.echoChannelMBps,
    ),
    entry(
      `forwarded connection setup p50 (connect, 1 byte there and back), ${plan.forwardConnections} sequential, vs raw TCP`,
      r.setupP50Ms,
      "ms",
      r.rawSetupP50Ms,
    ),
    entry("forwarded connection setup p99 vs raw TCP", r.setupP99Ms, "ms", r.rawSetupP99Ms),
    entry(
      "forwarded connection setup p50 vs a tunnel echo channel opened, 1 byte there and back, closed",
      r.setupP50Ms,
      "ms",
      r.echoSetupP50Ms,
    ),
  );
});

await scenario("cycles", async () => {
  progress("bare baseline: unary calls that do nothing, on connect-node");
  const server = await startBaseline("connect");
  let bareUnary: { p50Us: number; p99Us: number };
  try {
    bareUnary = await measureUnaryRtt(server.port, plan.cycles);
  } finally {
    await server.stop();
  }
  for (const store of stores) {
    progress(`${store}: ${plan.cycles} OpenTunnel -> ready -> CloseTunnel cycles`);
    const r = await tunnelCycles(store, plan.cycles, nodeArgs);
    entries.push(
      entry(
        `OpenTunnel to ready p50 (${store}) vs a bare connect-node unary call`,
        r.openP50Ms,
        "ms",
        bareUnary.p50Us / 1000,
        store === "mysql" ? { kind: "value-max", limit: 3 } : undefined,
      ),
      entry(
        `OpenTunnel to ready p99 (${store}) vs a bare connect-node unary call`,
        r.openP99Ms,
        "ms",
        bareUnary.p99Us / 1000,
        store === "mysql" ? { kind: "value-max", limit: 15 } : undefined,
      ),
      entry(`open/close cycles per second (${store})`, r.cyclesPerSecond, "cycles/s", null),
    );
  }
});

await scenario("exec", async () => {
  const command = ["echo", "fan-out"];
  progress(`bare baseline: ${plan.fanOut} local spawns of ${command.join(" ")} at once from one process`);
  const bare = await bareSpawn(command, plan.fanOut);
  for (const store of stores) {
    progress(`${store}: exec fan-out, ${command.join(" ")} on ${plan.fanOut} agents at once`);
    const r = await execFanOut(store, plan.fanOut, { progress, serverNodeArgs: nodeArgs });
    entries.push(
      entry(
        `exec fan-out: all ${plan.fanOut} exit codes back (${store}) vs bare local spawns from one process`,
        r.allExitedMs / 1000,
        "s",
        bare.allExitedMs / 1000,
      ),
      entry(`exec fan-out: p50 per command (${store})`, r.p50Ms, "ms", null),
      entry(`exec fan-out: commands that failed (${store})`, r.failed, "commands", null, {
        kind: "value-max",
        limit: 0,
      }),
    );
  }
});

await scenario("jobs", async () => {
  const n = plan.jobAgents;
  for (const store of stores) {
    progress(`${store}: one job over ${n} agents`);
    const job = await fleetJob(store, n, { progress, serverNodeArgs: nodeArgs });
    const MiB = 1024 * 1024;
    entries.push(
      entry(
        `job over ${n} agents: every result stored (${store}) vs exec fan-out, one tunnel per agent (tunnels already open)`,
        job.storedMs / 1000,
        "s",
        job.fanOutMs / 1000,
      ),
      entry(
        `job over ${n} agents: peak server RSS (${store}) vs the same server idle`,
        job.peakRssBytes / MiB,
        "MiB",
        job.idleRssBytes / MiB,
      ),
      entry(`job over ${n} agents: database rows written per step (${store})`, job.rowsPerStep, "rows", null),
      entry(`job over ${n} agents: write transactions for all results (${store})`, job.batches, "batches", null),
      entry(`job over ${n} agents: steps that did not succeed (${store})`, n - job.succeeded, "steps", null, {
        kind: "value-max",
        limit: 0,
      }),
      entry(
        `exec fan-out on the same ${n} agents: commands that failed (${store})`,
        job.fanOutFailed,
        "commands",
        null,
      ),
    );
  }
});

await scenario("files", async () => {
  const mib = plan.fileBytes / 1024 / 1024;
  progress(`file transfer: ${mib} MiB up and down through a real server and agent, SHA-256 verified`);
  const r = await fileTransfer({ bytes: plan.fileBytes, serverNodeArgs: nodeArgs, serverExtra });
  entries.push(
    entry(
      `file upload, ${mib} MiB, verified and installed, vs bare connect-node 1 hop`,
      r.uploadMBps,
      "MB/s",
      bareConnectMBps,
      { kind: "ratio-min", limit: 0.5 },
    ),
    entry(`file download, ${mib} MiB, verified, vs bare connect-node 1 hop`, r.downloadMBps, "MB/s", bareConnectMBps, {
      kind: "ratio-min",
      limit: 0.5,
    }),
  );
});

await scenario("endpoint", async () => {
  const mib = plan.fileBytes / 1024 / 1024;
  const r = await endpointFigures({ fileBytes: plan.fileBytes, serverNodeArgs: nodeArgs, progress });
  bareHttp2HolderRss = r.bareHttp2HolderRss;
  const MiB = 1024 * 1024;
  const aboveIdle = { kind: "value-max", limit: 16 } as const;
  entries.push(
    entry(
      "agent RSS idle (service NODE_OPTIONS) vs a bare Node process holding one HTTP/2 stream",
      r.agentIdleRss / MiB,
      "MiB",
      r.bareHttp2HolderRss / MiB,
      { kind: "ratio-max", limit: 1.15 },
    ),
    entry(
      "agent RSS idle, node's default flags, vs the bare HTTP/2 process",
      r.agentIdleRssNodeDefaults / MiB,
      "MiB",
      r.bareHttp2HolderRss / MiB,
    ),
    entry(
      `agent peak RSS above idle, ${mib} MiB upload`,
      (r.agentPeakRssUpload - r.agentIdleRss) / MiB,
      "MiB",
      null,
      aboveIdle,
    ),
    entry(
      `agent peak RSS above idle, ${mib} MiB download`,
      (r.agentPeakRssDownload - r.agentIdleRss) / MiB,
      "MiB",
      null,
      aboveIdle,
    ),
    entry(
      `rmm cp peak RSS above rmm exec's, ${mib} MiB upload`,
      (r.cliPeakRssUpload - r.cliPeakRssExec) / MiB,
      "MiB",
      null,
      aboveIdle,
    ),
    entry(
      `rmm cp peak RSS above rmm exec's, ${mib} MiB download`,
      (r.cliPeakRssDownload - r.cliPeakRssExec) / MiB,
      "MiB",
      null,
      aboveIdle,
    ),
    entry("rmm exec peak RSS (the CLI's figure without bulk data)", r.cliPeakRssExec / MiB, "MiB", null),
    entry("rmm --version p50 vs node -e 0", r.versionP50Ms, "ms", r.bareNodeP50Ms, { kind: "ratio-max", limit: 2 }),
    entry(
      "rmm --version p50, unbundled (dist/cli/main.js) vs node -e 0",
      r.unbundledVersionP50Ms,
      "ms",
      r.bareNodeP50Ms,
    ),
    entry("rmm exec AGENT -- true p50, end to end", r.cliExecP50Ms, "ms", r.bareNodeP50Ms, {
      kind: "value-max",
      limit: 150,
    }),
    entry("rmm exec AGENT -- true p50, unbundled, vs the bundle", r.unbundledCliExecP50Ms, "ms", r.cliExecP50Ms),
    entry(
      "Exec round trip of true, session held, p50 vs bare spawn + one unary round trip",
      r.execRoundTripP50Ms,
      "ms",
      r.bareSpawnP50Ms + r.bareUnaryP50Ms,
      { kind: "ratio-max", limit: 1.5 },
    ),
    entry("bare spawn of true from Node, p50", r.bareSpawnP50Ms, "ms", null),
    entry(
      "bare spawn of true under setpriv --pdeathsig (as the agent spawns it), p50, vs plain",
      r.bareSpawnUnderParentDeathP50Ms,
      "ms",
      r.bareSpawnP50Ms,
    ),
    entry("agent start to online p50 vs node -e 0", r.agentStartToOnlineP50Ms, "ms", r.bareNodeP50Ms, {
      kind: "value-max",
      limit: 300,
    }),
  );
});

await scenario("packaged", async () => {
  const r = await packagedAgentFigures({ progress });
  const MiB = 1024 * 1024;
  entries.push(
    entry(
      "packaged agent (single executable, service NODE_OPTIONS) RSS idle vs the bare HTTP/2 process",
      r.idleRss / MiB,
      "MiB",
      bareHttp2HolderRss === null ? null : bareHttp2HolderRss / MiB,
      { kind: "ratio-max", limit: 1.15 },
    ),
    entry("packaged agent start to online p50", r.startToOnlineP50Ms, "ms", null, { kind: "value-max", limit: 300 }),
    entry("packaged agent build (npm run package:agent)", r.packageSeconds, "s", null),
  );
});

await scenario("fleet", async () => {
  for (const size of plan.fleetSizes) {
    progress(`bare baselines: ${size} idle streams`);
    const bare: Record<"connect" | "grpcjs", { establishMs: number; bytesPerStream: number }> = {
      connect: { establishMs: 0, bytesPerStream: 0 },
      grpcjs: { establishMs: 0, bytesPerStream: 0 },
    };
    for (const kind of ["connect", "grpcjs"] as const) {
      const server = await startBaseline(kind);
      try {
        const before = await server.memoryAfterGc();
        const held = await holdIdleStreams(kind, server.port, size);
        const after = await server.memoryAfterGc();
        bare[kind] = { establishMs: held.establishMs, bytesPerStream: (after.rss - before.rss) / size };
        await held.close();
      } finally {
        await server.stop();
      }
    }
    // The storm at 1,000 agents and at the largest fleet (10,000 with --full).
    const storm = size === plan.fleetSizes[0] || size === plan.fleetSizes.at(-1);
    for (const store of stores) {
      progress(`${store}: ${size} idle agents${storm ? ", then a reconnect storm" : ""}`);
      const r = await idleFleet(store, size, { storm, progress, serverNodeArgs: nodeArgs, serverExtra });
      entries.push(
        entry(
          `server RSS per idle agent, ${size} agents (${store}) vs bare connect-node`,
          r.rssPerAgentBytes / KiB,
          "KiB",
          bare.connect.bytesPerStream / KiB,
        ),
        entry(
          `server RSS per idle agent, ${size} agents (${store}) vs bare grpc-js`,
          r.rssPerAgentBytes / KiB,
          "KiB",
          bare.grpcjs.bytesPerStream / KiB,
          { kind: "ratio-max", limit: 1 },
        ),
        entry(`server heap per idle agent, ${size} agents (${store})`, r.heapPerAgentBytes / KiB, "KiB", null),
        entry(
          `${size} agents online from cold start (${store}) vs bare connect-node establish`,
          r.onlineMs / 1000,
          "s",
          bare.connect.establishMs / 1000,
        ),
      );
      if (r.reconnectMs !== undefined) {
        entries.push(
          entry(
            `${size} agents online after a server kill and restart (${store}) vs bare establish`,
            r.reconnectMs / 1000,
            "s",
            bare.connect.establishMs / 1000,
            { kind: "ratio-max", limit: 2 },
          ),
          entry(`agents not back after the restart (${store})`, r.reconnectFailed ?? 0, "agents", null, {
            kind: "value-max",
            limit: 0,
          }),
          entry(`peak server CPU during the reconnect storm (${store})`, r.reconnectPeakCpu ?? 0, "cores", null),
        );
      }
    }
  }
});

/** One bare process holds at most about 19,000 streams here (descriptors): the per-stream baseline is taken below that. */
const BARE_STREAMS_MAX = 15_000;

await scenario("cluster", async () => {
  const size = plan.clusterAgents;
  const bareSize = Math.min(size, BARE_STREAMS_MAX);
  progress(`bare baseline: ${bareSize} idle streams on connect-node`);
  const server = await startBaseline("connect");
  let bare: { establishMs: number; bytesPerStream: number };
  try {
    const before = await server.memoryAfterGc();
    const held = await holdIdleStreams("connect", server.port, bareSize);
    const after = await server.memoryAfterGc();
    bare = { establishMs: (held.establishMs * size) / bareSize, bytesPerStream: (after.rss - before.rss) / bareSize };
    await held.close();
  } finally {
    await server.stop();
  }
  const nodes = clusterNodesFor(size);
  const r = await clusterFleet(size, { nodes, progress, serverNodeArgs: nodeArgs });
  entries.push(
    entry(
      `cluster: RSS per idle agent across ${nodes} nodes, ${size} agents, vs bare connect-node`,
      r.rssPerAgentBytes / KiB,
      "KiB",
      bare.bytesPerStream / KiB,
    ),
    entry(
      `cluster: ${size} agents online through one port, vs bare connect-node establish (scaled)`,
      r.onlineMs / 1000,
      "s",
      bare.establishMs / 1000,
    ),
    entry(`cluster: agents on the node killed -9`, r.lostAgents, "agents", null),
    entry(
      `cluster: kill -9 of one node until all ${size} are online again`,
      r.recoverMs / 1000,
      "s",
      r.onlineMs / 1000,
    ),
  );
  progress("cluster: echo through two nodes: technician on the agent's node vs on another");
  const echo = await clusterEcho({
    roundTrips: plan.roundTrips,
    totalBytes: plan.totalBytes,
    serverNodeArgs: nodeArgs,
  });
  entries.push(
    entry(
      "cluster: echo p50, technician on another node vs on the agent's",
      echo.crossNode.p50Us,
      "us",
      echo.sameNode.p50Us,
    ),
    entry(
      "cluster: echo p99, technician on another node vs on the agent's",
      echo.crossNode.p99Us,
      "us",
      echo.sameNode.p99Us,
    ),
    entry(
      "cluster: echo throughput, technician on another node vs on the agent's",
      echo.crossNode.mbPerSec,
      "MB/s",
      echo.sameNode.mbPerSec,
    ),
  );
});

process.stdout.write(markdownTable(entries) + "\n");
writeResults("bench/results/latest.json", entries);
progress("wrote bench/results/latest.json");
