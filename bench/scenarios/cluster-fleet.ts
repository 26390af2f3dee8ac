import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManagedProcess, SERVER_MAIN } from "../../testkit/managed-process.js";
import { createTestDatabase } from "../../testkit/test-databases.js";
import { Fleet } from "../fleet.js";

export interface ClusterFleetResult {
  size: number;
  nodes: number;
  /** From starting the load generators to every agent online, through the one port. */
  onlineMs: number;
  /** Resident memory of all the nodes together, after GC, per agent. */
  rssPerAgentBytes: number;
  /** Agents the killed node held, as the fleet counted them dropping. */
  lostAgents: number;
  /** From kill -9 of one node to every agent online again (on the others or the restarted one). */
  recoverMs: number;
}

/** The project's NATS (scripts/ensure-nats.sh); override for another. */
export const BENCH_NATS_URL = process.env.RMM_BENCH_NATS_URL ?? "nats://127.0.0.1:4222";
const ONLINE_TIMEOUT_MS = 600_000;
/** Heartbeats as in production, so idle agents cost what they would. */
const HEARTBEAT = "25s";

/**
 * Agents one node may hold: a process here gets 20,000 descriptors, and a node
 * also holds its database, NATS and log descriptors and the sockets of agents
 * reconnecting while their old stream has not yet timed out.
 */
const NODE_AGENTS_MAX = 17_000;

/**
 * Nodes for a fleet of `size`: at least three, and enough that when one is
 * killed the others hold its agents within NODE_AGENTS_MAX each until it is back.
 */
export function clusterNodesFor(size: number): number {
  return Math.max(3, Math.ceil(size / NODE_AGENTS_MAX) + 1);
}

/** Pids of a process's children (Linux /proc): the pool's workers. */
function childrenOf(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
}

/**
 * `nodes` cluster nodes on one port (`serve --workers`) on MySQL and NATS,
 * `size` simulated agents through that port; then one node killed outright
 * and the time until its agents are online again.
 */
export async function clusterFleet(
  size: number,
  opts: { nodes: number; progress: (msg: string) => void; serverNodeArgs: readonly string[] },
): Promise<ClusterFleetResult> {
  const dir = mkdtempSync(join(tmpdir(), "rmm-bench-cluster-"));
  const db = await createTestDatabase("mysql");
  const fleet = await Fleet.enroll(db.url, size, join(dir, "identities.jsonl"));
  // Node ids unique to this run: other runs may share the NATS server.
  const pool = new ManagedProcess(
    SERVER_MAIN,
    [
      "serve",
      "--listen",
      "127.0.0.1:0",
      "--data-dir",
      join(dir, "server"),
      "--db",
      db.url,
      "--heartbeat-interval",
      HEARTBEAT,
      "--offline-after",
      "75s",
      "--cluster",
      BENCH_NATS_URL,
      "--node-id",
      `bench-${randomBytes(3).toString("hex")}`,
      "--workers",
      String(opts.nodes),
    ],
    { nodeArgs: ["--expose-gc", ...opts.serverNodeArgs], logLevel: "info" },
  );
  const listening = () => pool.logs.filter((e) => e.msg === "rmm-server listening");
  const memory = async () => {
    const mark = pool.logs.length;
    const workers = childrenOf(pool.pid);
    for (const pid of workers) process.kill(pid, "SIGUSR2");
    let rss = 0;
    for (let seen = 0, at = mark; seen < workers.length; seen++) {
      const e = await pool.waitForLog((l) => l.msg === "memory after gc", "memory reports", 30_000, at);
      at = pool.logs.indexOf(e) + 1;
      rss += Number(e.rss);
    }
    return rss;
  };
  try {
    while (listening().length < opts.nodes) {
      if (!pool.running) throw new Error(`the pool exited: ${JSON.stringify(pool.logs.slice(-3))}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const url = String(listening()[0]!.url);
    const before = await memory();
    opts.progress(`cluster: ${size} simulated agents through one port to ${opts.nodes} nodes`);
    fleet.start(url);
    const onlineMs = await fleet.waitOnline(size, ONLINE_TIMEOUT_MS, opts.progress);
    const after = await memory();

    opts.progress("cluster: kill -9 of one node");
    const killedAt = performance.now();
    process.kill(childrenOf(pool.pid)[0]!, "SIGKILL");
    let lowest = size;
    while (fleet.online() >= size && performance.now() - killedAt < 120_000)
      await new Promise((r) => setTimeout(r, 50));
    const recovering = (async () => {
      for (;;) {
        lowest = Math.min(lowest, fleet.online());
        if (fleet.online() >= size) return performance.now() - killedAt;
        if (performance.now() - killedAt > ONLINE_TIMEOUT_MS) throw new Error(`only ${fleet.online()} back online`);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const recoverMs = await recovering;
    return {
      size,
      nodes: opts.nodes,
      onlineMs,
      rssPerAgentBytes: (after - before) / size,
      lostAgents: size - lowest,
      recoverMs,
    };
  } finally {
    await fleet.stop();
    await pool.stop();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}
