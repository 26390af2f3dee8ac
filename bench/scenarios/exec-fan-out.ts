import type { Client } from "@connectrpc/connect";
import { createTechnicianClient } from "../../client/technician-client.js";
import type { TunnelService } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { withBenchFleet } from "./bench-fleet.js";
import { percentile } from "./tunnel-rig.js";

/** Tunnels opened at once while preparing; opening is not what this scenario times. */
const OPEN_BATCH = 200;
/** Every simulated agent runs this: short, and present on any POSIX endpoint. */
const COMMAND = ["echo", "fan-out"];

/**
 * The same short command on `size` simulated agents at once (each the real
 * Agent with its real exec channel, spawning a real process), through one
 * real server: how long until every one has exited, and each call's latency.
 */
export async function execFanOut(
  store: "sqlite" | "mysql",
  size: number,
  opts: { progress?: (msg: string) => void; serverNodeArgs?: string[] } = {},
): Promise<{ agents: number; allExitedMs: number; p50Ms: number; p99Ms: number; failed: number }> {
  const progress = opts.progress ?? (() => undefined);
  return withBenchFleet(store, size, { ...opts, name: "exec" }, async ({ server, agentIds, adminToken }) => {
    const r = await fanOutOnce(createTechnicianClient(server.url, adminToken), agentIds, progress);
    return { agents: size, ...r };
  });
}

/**
 * Opens one tunnel per agent (untimed), then runs COMMAND on all of them at
 * once: time until every exit code is back, each call's latency, and
 * failures; closes the tunnels again.
 */
export async function fanOutOnce(
  client: Client<typeof TunnelService>,
  agentIds: readonly string[],
  progress: (msg: string) => void,
): Promise<{ allExitedMs: number; p50Ms: number; p99Ms: number; failed: number }> {
  const sessions: string[] = [];
  // An agent that cannot take a tunnel (a loaded machine drops some offline) counts as a failed command.
  let unopened = 0;
  for (let i = 0; i < agentIds.length; i += OPEN_BATCH) {
    const opened = await Promise.all(
      agentIds.slice(i, i + OPEN_BATCH).map(async (agentId) => {
        try {
          return (await client.openTunnel({ agentId })).session!.id;
        } catch {
          unopened++;
          return undefined;
        }
      }),
    );
    sessions.push(...opened.filter((id): id is string => id !== undefined));
  }
  progress(`${sessions.length} tunnels open; running ${COMMAND.join(" ")} on all at once`);
  let failed = unopened;
  const reasons = new Map<string, number>();
  const latencies: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    sessions.map(async (sessionId) => {
      const started = performance.now();
      try {
        let exitCode: number | undefined;
        for await (const res of client.exec({ sessionId, params: { argv: COMMAND } }))
          if (res.kind.case === "exit") exitCode = res.kind.value.exitCode;
        if (exitCode !== 0) failed++;
        else latencies.push(performance.now() - started);
      } catch (err) {
        failed++;
        reasons.set(String(err), (reasons.get(String(err)) ?? 0) + 1);
      }
    }),
  );
  for (const [reason, count] of reasons) progress(`${count} commands failed: ${reason.slice(0, 300)}`);
  const allExitedMs = performance.now() - t0;
  latencies.sort((a, b) => a - b);
  for (let i = 0; i < sessions.length; i += OPEN_BATCH)
    await Promise.all(
      sessions.slice(i, i + OPEN_BATCH).map((sessionId) => client.closeTunnel({ sessionId }).catch(() => undefined)),
    );
  return { allExitedMs, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), failed };
}
