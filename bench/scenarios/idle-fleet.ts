import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { BACKOFF_STABLE_AFTER_MS } from "../../agent/backoff.js";
import { startServerProcess } from "../../testkit/managed-process.js";
import { createTestDatabase, type Dialect } from "../../testkit/test-databases.js";
import { Fleet } from "../fleet.js";
import { CpuSampler, memoryAfterGc } from "./server-probe.js";

export interface IdleFleetResult {
  size: number;
  /** From starting the load generators to every agent in heartbeat mode. */
  onlineMs: number;
  rssPerAgentBytes: number;
  heapPerAgentBytes: number;
  /** Kill -9 and restart under the whole fleet: restart to every agent back online. */
  reconnectMs?: number;
  reconnectPeakCpu?: number;
  /** Agents not back online when the storm was timed out. */
  reconnectFailed?: number;
}

/** Time allowed for a fleet to come online before the run counts it as failed. */
const ONLINE_TIMEOUT_MS = 180_000;
/** Heartbeats as in production, so idle agents cost what they would. */
const HEARTBEAT = "25s";

/** Scenarios 1 and 2: an idle heartbeating fleet of `size` agents, then (optionally) a reconnect storm. */
export async function idleFleet(
  store: Dialect,
  size: number,
  opts: {
    storm: boolean;
    progress: (msg: string) => void;
    serverNodeArgs: readonly string[];
    /** More `rmm-server serve` flags. Defaults to none. */
    serverExtra?: readonly string[];
  },
): Promise<IdleFleetResult> {
  const dir = mkdtempSync(join(tmpdir(), "rmm-bench-fleet-"));
  const db = await createTestDatabase(store);
  const fleet = await Fleet.enroll(db.url, size, join(dir, "identities.jsonl"));
  const startServer = (port?: number) =>
    startServerProcess({
      dataDir: join(dir, "server"),
      db: db.url,
      nodeArgs: ["--expose-gc", ...opts.serverNodeArgs],
      logLevel: "info",
      heartbeatInterval: HEARTBEAT,
      offlineAfter: "75s",
      ...(port ? { port } : {}),
      extra: [...(opts.serverExtra ?? [])],
    });
  let server = await startServer();
  try {
    const before = await memoryAfterGc(server.proc);
    opts.progress(`${store}: starting ${size} simulated agents`);
    fleet.start(server.url);
    const onlineMs = await fleet.waitOnline(size, ONLINE_TIMEOUT_MS, opts.progress);
    const after = await memoryAfterGc(server.proc);
    const result: IdleFleetResult = {
      size,
      onlineMs,
      rssPerAgentBytes: (after.rss - before.rss) / size,
      heapPerAgentBytes: (after.heapUsed - before.heapUsed) / size,
    };
    if (opts.storm) {
      // A storm of agents that were stably online, as a fleet is when its server dies: their reconnect
      // backoff starts over (see BACKOFF_REJOIN_ATTEMPTS), where a fleet still joining would not.
      opts.progress(
        `${store}: ${size} agents online; waiting ${BACKOFF_STABLE_AFTER_MS / 1000} s until they are stable`,
      );
      await sleep(BACKOFF_STABLE_AFTER_MS);
      opts.progress(`${store}: killing the server under ${size} agents`);
      await server.proc.stop("SIGKILL");
      // Time the storm from a fleet that knows it is cut off, not from stale reports.
      while (fleet.online() > 0) await new Promise((r) => setTimeout(r, 50));
      server = await startServer(server.port);
      const cpu = new CpuSampler(server.proc.pid);
      try {
        // Agents notice the restart at different times; wait for the count to drop first.
        result.reconnectMs = await fleet.waitOnline(size, ONLINE_TIMEOUT_MS, opts.progress);
      } catch (err) {
        result.reconnectFailed = size - fleet.online();
        opts.progress(String(err));
      } finally {
        cpu.stop();
      }
      result.reconnectPeakCpu = cpu.peak();
      result.reconnectFailed ??= 0;
    }
    return result;
  } finally {
    await fleet.stop();
    await server.proc.stop();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}
