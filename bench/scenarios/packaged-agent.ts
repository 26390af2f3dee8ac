import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { AGENT_NODE_OPTIONS } from "../../agent/agent-node-options.js";
import { startAgentRig } from "../../testkit/agent-rig.js";
import { settledRss } from "../process-rss.js";
import { percentile } from "./tunnel-rig.js";

/** The log line that says the agent is online (its mode machine entering heartbeat). */
const ONLINE = "connecting -> heartbeat";
/** A packaged agent that is not online by then has failed to start. */
const ONLINE_TIMEOUT_MS = 30_000;

export interface PackagedAgentFigures {
  /** Idle RSS with the service's NODE_OPTIONS, bytes. */
  idleRss: number;
  startToOnlineP50Ms: number;
  /** How long `npm run package:agent` took. */
  packageSeconds: number;
}

/**
 * The agent as endpoints run it: built with scripts/package-agent.mjs (one
 * executable, the bundle and V8's code cache inside) and started as its
 * systemd unit starts it (NODE_OPTIONS from AGENT_NODE_OPTIONS), against a
 * real server: start to online, `starts` times, and its idle RSS.
 */
export async function packagedAgentFigures(
  opts: { starts?: number; progress?: (msg: string) => void } = {},
): Promise<PackagedAgentFigures> {
  const progress = opts.progress ?? (() => undefined);
  const out = mkdtempSync(join(tmpdir(), "rmm-bench-package-"));
  const rig = await startAgentRig("sqlite", { logLevel: "info" });
  try {
    progress("packaged agent: building it with scripts/package-agent.mjs");
    const t0 = performance.now();
    const { stdout } = await promisify(execFile)(process.execPath, [
      resolve("scripts/package-agent.mjs"),
      "--out",
      out,
    ]);
    const packageSeconds = (performance.now() - t0) / 1000;
    const { executable } = JSON.parse(stdout.trim().split("\n").at(-1)!) as { executable: string };
    await rig.enrollAgent("packaged");
    const state = join(rig.dir, "packaged", "state.json");
    const starts = opts.starts ?? 5;
    progress(`packaged agent: ${starts} starts to online`);
    const startMs: number[] = [];
    let idleRss = 0;
    for (let i = 0; i < starts; i++) {
      const started = performance.now();
      const agent = spawn(executable, ["run", "--state", state], {
        env: { ...process.env, NODE_OPTIONS: AGENT_NODE_OPTIONS.join(" "), RMM_LOG_LEVEL: "info" },
        stdio: ["ignore", "ignore", "pipe"],
      });
      const exited = new Promise<void>((done) => agent.once("exit", () => done()));
      try {
        await online(agent.stderr, exited);
        startMs.push(performance.now() - started);
        if (i === 0) idleRss = await settledRss(agent.pid!);
      } finally {
        agent.kill("SIGTERM");
        await exited;
      }
    }
    return {
      idleRss,
      startToOnlineP50Ms: percentile(
        [...startMs].sort((a, b) => a - b),
        50,
      ),
      packageSeconds,
    };
  } finally {
    await rig.stop();
    rmSync(out, { recursive: true, force: true });
  }
}

/** Resolves at the agent's online log line; rejects if it exits first or takes past the timeout. */
function online(stderr: NodeJS.ReadableStream, exited: Promise<void>): Promise<void> {
  return new Promise((done, fail) => {
    const tail: string[] = [];
    const timer = setTimeout(
      () => fail(new Error(`the packaged agent was not online within ${ONLINE_TIMEOUT_MS} ms: ${tail.join(" | ")}`)),
      ONLINE_TIMEOUT_MS,
    );
    createInterface({ input: stderr }).on("line", (line) => {
      tail.push(line);
      if (tail.length > 5) tail.shift();
      if (line.includes(`"msg":"${ONLINE}"`)) {
        clearTimeout(timer);
        done();
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      fail(new Error(`the packaged agent exited before it was online: ${tail.join(" | ")}`));
    });
  });
}
