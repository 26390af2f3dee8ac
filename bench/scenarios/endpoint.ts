import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { AGENT_NODE_OPTIONS } from "../../agent/agent-node-options.js";
import { underParentDeath } from "../../agent/process/parent-death.js";
import { createTechnicianClient } from "../../client/technician-client.js";
import { startAgentRig } from "../../testkit/agent-rig.js";
import { writeLargeRandomFile } from "../../testkit/file-fixtures.js";
import { measureUnaryRtt } from "../baselines/baseline-client.js";
import { startBaseline } from "../baselines/spawn-baseline.js";
import { settledRss, watchPeakRss } from "../process-rss.js";
import { timedRunOk } from "../timed-process.js";
import { percentile } from "./tunnel-rig.js";

/** The `rmm` bin: the bundle scripts/bundle-cli.mjs writes. */
const CLI_BUNDLE = resolve("dist/rmm/rmm.js");
/** The same CLI as tsc writes it, one file per module: what the bundle is compared with. */
const CLI_UNBUNDLED = resolve("dist/cli/main.js");
const HOLDER_MAIN = resolve("dist/bench/baselines/bare-http2-holder.js");
/** The program every exec figure runs: it does nothing, so what is timed is ours. */
const TRUE = ["true"];

export interface EndpointOptions {
  /** Bytes of the file uploaded and downloaded while the agent's and the CLI's RSS are watched. */
  fileBytes: number;
  /** `rmm --version`, `node -e 0` and `rmm exec AGENT -- true` runs, each (default 20). */
  cliRuns?: number;
  /** In-process Exec round trips with a session held, and bare spawns (default 100). */
  execRoundTrips?: number;
  /** Agent cold starts to online (default 5). */
  agentStarts?: number;
  serverNodeArgs?: string[];
  progress?: (msg: string) => void;
}

/** Every figure in bytes or milliseconds; each `bare*` is the baseline its neighbour is compared with. */
export interface EndpointFigures {
  /** With the service's AGENT_NODE_OPTIONS. */
  agentIdleRss: number;
  /** The same agent with node's default flags. */
  agentIdleRssNodeDefaults: number;
  bareHttp2HolderRss: number;
  agentPeakRssUpload: number;
  agentPeakRssDownload: number;
  cliPeakRssUpload: number;
  cliPeakRssDownload: number;
  /** The CLI's peak for `rmm exec AGENT -- true`: its figure without bulk data. */
  cliPeakRssExec: number;
  versionP50Ms: number;
  bareNodeP50Ms: number;
  cliExecP50Ms: number;
  unbundledVersionP50Ms: number;
  unbundledCliExecP50Ms: number;
  execRoundTripP50Ms: number;
  bareSpawnP50Ms: number;
  /** The same spawn as the agent makes it: under `setpriv --pdeathsig KILL` where that exists, so two execs. */
  bareSpawnUnderParentDeathP50Ms: number;
  bareUnaryP50Ms: number;
  agentStartToOnlineP50Ms: number;
}

/**
 * What a technician and an endpoint feel: the agent's memory idle and under a
 * transfer, the CLI's start-up and one command end to end, an Exec round trip
 * with a session held, and the agent's start to online, each beside the bare
 * figure of the same run. CLI and process runs alternate with their baselines,
 * so drift on a shared machine hits both alike; medians are reported.
 */
export async function endpointFigures(opts: EndpointOptions): Promise<EndpointFigures> {
  const progress = opts.progress ?? (() => undefined);
  const cliRuns = opts.cliRuns ?? 20;
  const execRoundTrips = opts.execRoundTrips ?? 100;
  const work = mkdtempSync(join(tmpdir(), "rmm-bench-endpoint-"));
  const root = join(work, "root");
  mkdirSync(root);
  mkdirSync(join(work, "config"));
  // The agent runs as its service runs it: with the unit's NODE_OPTIONS.
  const rig = await startAgentRig("sqlite", {
    agentNodeArgs: [...AGENT_NODE_OPTIONS],
    agentExtra: ["--file-root", root],
    serverExtra: ["--max-transfer-bytes", "0"],
    logLevel: "info",
    ...(opts.serverNodeArgs && { serverNodeArgs: opts.serverNodeArgs }),
  });
  try {
    const token = await rig.mintToken("bench", "tech");
    const cliEnv = { ...process.env, RMM_SERVER: rig.url, RMM_TOKEN: token, XDG_CONFIG_HOME: join(work, "config") };
    const cli = (...args: string[]) => timedRunOk([process.execPath, CLI_BUNDLE, ...args], cliEnv);
    const unbundled = (...args: string[]) => timedRunOk([process.execPath, CLI_UNBUNDLED, ...args], cliEnv);

    progress("endpoint: agent idle RSS vs a bare process holding one HTTP/2 stream");
    const agentIdleRss = await settledRss(rig.agent.pid);
    const bareHttp2HolderRss = await bareHolderRss();

    progress(
      `endpoint: rmm --version vs node -e 0, then rmm exec AGENT -- true, ${cliRuns} runs each, bundled and not`,
    );
    const version: number[] = [];
    const unbundledVersion: number[] = [];
    const bareNode: number[] = [];
    for (let i = 0; i < cliRuns; i++) {
      version.push((await cli("--version")).wallMs);
      unbundledVersion.push((await unbundled("--version")).wallMs);
      bareNode.push((await timedRunOk([process.execPath, "-e", "0"])).wallMs);
    }
    const cliExec: number[] = [];
    const unbundledCliExec: number[] = [];
    let cliPeakRssExec = 0;
    for (let i = 0; i < cliRuns; i++) {
      const run = await cli("exec", rig.agentId, "--", ...TRUE);
      cliExec.push(run.wallMs);
      cliPeakRssExec = Math.max(cliPeakRssExec, run.peakRssBytes);
      unbundledCliExec.push((await unbundled("exec", rig.agentId, "--", ...TRUE)).wallMs);
      bareNode.push((await timedRunOk([process.execPath, "-e", "0"])).wallMs);
    }

    progress(`endpoint: ${execRoundTrips} Exec round trips with a session held, vs bare spawns and unary calls`);
    const client = createTechnicianClient(rig.url, token);
    const sessionId = (await client.openTunnel({ agentId: rig.agentId })).session!.id;
    // Each round trip alternates with the two bare spawns, so load on a shared machine hits all three alike.
    const execMs: number[] = [];
    const spawnMs: number[] = [];
    const underParentDeathMs: number[] = [];
    const launched = underParentDeath(TRUE[0]!, TRUE.slice(1));
    for (let i = 0; i < execRoundTrips; i++) {
      const t0 = performance.now();
      let exitCode: number | undefined;
      for await (const res of client.exec({ sessionId, params: { argv: TRUE } }))
        if (res.kind.case === "exit") exitCode = res.kind.value.exitCode;
      if (exitCode !== 0) throw new Error(`exec ${TRUE.join(" ")} exited with ${exitCode}`);
      execMs.push(performance.now() - t0);
      spawnMs.push(await spawnOnce(TRUE));
      underParentDeathMs.push(await spawnOnce([launched.program, ...launched.args]));
    }
    await client.closeTunnel({ sessionId });
    const bareUnaryP50Ms = await bareUnaryP50(execRoundTrips);

    progress(`endpoint: ${opts.fileBytes / 1024 / 1024} MiB up and down with rmm cp, watching agent and CLI RSS`);
    const src = join(work, "source");
    const sha = await writeLargeRandomFile(src, opts.fileBytes);
    const upload = await watchedTransfer(rig.agent.pid, () => cli("cp", src, `${rig.agentId}:${join(root, "file")}`));
    const back = join(work, "back");
    const download = await watchedTransfer(rig.agent.pid, () =>
      cli("cp", `${rig.agentId}:${join(root, "file")}`, back),
    );
    const backSha = await sha256Of(back);
    if (backSha !== sha) throw new Error(`the downloaded file's SHA-256 ${backSha} is not the source's ${sha}`);

    progress(`endpoint: agent start to online, ${opts.agentStarts ?? 5} cold starts with node's default flags`);
    await rig.enrollAgent("startup");
    const startMs: number[] = [];
    let agentIdleRssNodeDefaults = 0;
    for (let i = 0; i < (opts.agentStarts ?? 5); i++) {
      const t0 = performance.now();
      const agent = await rig.runEnrolled("startup");
      startMs.push(performance.now() - t0);
      if (i === 0) agentIdleRssNodeDefaults = await settledRss(agent.pid);
      await agent.stop();
    }

    const p50 = (xs: number[]) =>
      percentile(
        [...xs].sort((a, b) => a - b),
        50,
      );
    return {
      agentIdleRss,
      agentIdleRssNodeDefaults,
      bareHttp2HolderRss,
      agentPeakRssUpload: upload.agentPeak,
      agentPeakRssDownload: download.agentPeak,
      cliPeakRssUpload: upload.cliPeak,
      cliPeakRssDownload: download.cliPeak,
      cliPeakRssExec,
      versionP50Ms: p50(version),
      bareNodeP50Ms: p50(bareNode),
      cliExecP50Ms: p50(cliExec),
      unbundledVersionP50Ms: p50(unbundledVersion),
      unbundledCliExecP50Ms: p50(unbundledCliExec),
      execRoundTripP50Ms: p50(execMs),
      bareSpawnP50Ms: p50(spawnMs),
      bareSpawnUnderParentDeathP50Ms: p50(underParentDeathMs),
      bareUnaryP50Ms,
      agentStartToOnlineP50Ms: p50(startMs),
    };
  } finally {
    await rig.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/** The settled RSS of a bare process holding one HTTP/2 stream to a bare connect-node server. */
async function bareHolderRss(): Promise<number> {
  const server = await startBaseline("connect");
  const holder = spawn(process.execPath, [HOLDER_MAIN, "--port", String(server.port)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    const held = await new Promise<boolean>((done) => {
      createInterface({ input: holder.stdout }).once("line", () => done(true));
      holder.once("exit", () => done(false));
    });
    if (!held) throw new Error(`the bare HTTP/2 holder exited with ${holder.exitCode} before holding its stream`);
    return await settledRss(holder.pid!);
  } finally {
    holder.kill("SIGTERM");
    await server.stop();
  }
}

/** One spawn of `argv` from this process, to its exit: the floor under an Exec on the agent's machine. */
function spawnOnce(argv: readonly string[]): Promise<number> {
  return new Promise((done, fail) => {
    const t0 = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.resume();
    child.stderr.resume();
    child.on("error", fail);
    child.on("close", () => done(performance.now() - t0));
  });
}

async function bareUnaryP50(samples: number): Promise<number> {
  const server = await startBaseline("connect");
  try {
    return (await measureUnaryRtt(server.port, samples)).p50Us / 1000;
  } finally {
    await server.stop();
  }
}

/** Runs one `rmm cp`, watching the agent's RSS meanwhile; the CLI's peak comes from its own run. */
async function watchedTransfer(
  agentPid: number,
  copy: () => ReturnType<typeof timedRunOk>,
): Promise<{ agentPeak: number; cliPeak: number }> {
  const agent = watchPeakRss(agentPid);
  const run = await copy();
  return { agentPeak: agent.stop(), cliPeak: run.peakRssBytes };
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
