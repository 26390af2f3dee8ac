import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "@connectrpc/connect";
import { ChannelClient } from "../../client/channel-client.js";
import { createTechnicianClient } from "../../client/technician-client.js";
import { FORWARD_WINDOW_BYTES } from "../../common/forward-target.js";
import { ChannelType } from "../../gen/rmm/v1/frame_pb.js";
import type { TunnelService } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { loadOrCreateSigningSecret } from "../../server/auth/signing-secret.js";
import { TokenIssuer } from "../../server/auth/token-issuer.js";
import { enrollWithAgentCli } from "../../testkit/agent-rig.js";
import { AGENT_MAIN, ManagedProcess, startServerProcess } from "../../testkit/managed-process.js";
import { createTestDatabase } from "../../testkit/test-databases.js";
import { migrateToLatest, openDatabase, parseDatabaseUrl } from "../../server/store/index.js";
import { echoRttOn, throughputOn } from "../baselines/baseline-client.js";
import { BENCH_NATS_URL } from "./cluster-fleet.js";

const SMALL_FRAME_BYTES = 64;
const CHUNK_BYTES = 64 * 1024;

export interface EchoFigures {
  p50Us: number;
  p99Us: number;
  mbPerSec: number;
}

/**
 * Echo round trip and throughput through a tunnel when the technician's node
 * holds the agent (one hop, as on a single server) and when another node
 * does (the call carried over NATS), on the same two nodes in the same run.
 */
export async function clusterEcho(opts: {
  roundTrips: number;
  totalBytes: number;
  serverNodeArgs: readonly string[];
}): Promise<{ sameNode: EchoFigures; crossNode: EchoFigures }> {
  const dir = mkdtempSync(join(tmpdir(), "rmm-bench-cluster-echo-"));
  const db = await createTestDatabase("mysql");
  // Migrated before the nodes start: a fresh MySQL schema takes longer than a node waits to be listening.
  const store = openDatabase(parseDatabaseUrl(db.url));
  await migrateToLatest(store).finally(() => store.destroy());
  const dataDir = join(dir, "server");
  const run = randomBytes(3).toString("hex");
  const node = (id: string) =>
    startServerProcess({
      dataDir,
      db: db.url,
      nodeArgs: [...opts.serverNodeArgs],
      logLevel: "info",
      heartbeatInterval: "25s",
      offlineAfter: "75s",
      extra: ["--cluster", BENCH_NATS_URL, "--node-id", `bench-${run}-${id}`],
    });
  let holder: Awaited<ReturnType<typeof node>> | undefined;
  let other: Awaited<ReturnType<typeof node>> | undefined;
  let agent: ManagedProcess | undefined;
  try {
    holder = await node("x");
    other = await node("y");
    const issuer = new TokenIssuer(loadOrCreateSigningSecret(dataDir).secret, "rmm-server", "rmm-api");
    const statePath = join(dir, "agent", "state.json");
    const agentId = await enrollWithAgentCli(holder.url, await issuer.mintEnrollment(60), statePath);
    agent = new ManagedProcess(AGENT_MAIN, ["run", "--state", statePath], { logLevel: "info" });
    await agent.waitForLog((e) => e.msg === "connecting -> heartbeat", "the agent online");
    const token = await issuer.mintTechnician("bench", "tech", 3_600);
    const measure = async (client: Client<typeof TunnelService>): Promise<EchoFigures> => {
      const sessionId = (await client.openTunnel({ agentId })).session!.id;
      // The bulk channel keeps 1 MiB in flight, as the single-server echo scenario's does.
      const open = async (windowBytes?: number) => {
        const channel = await ChannelClient.open(client, {
          sessionId,
          type: ChannelType.ECHO,
          ...(windowBytes && { windowBytes }),
        });
        return {
          write: (b: Uint8Array) => channel.write(b),
          received: channel.data()[Symbol.asyncIterator](),
          close: async () => channel.close(),
        };
      };
      const rtt = await open();
      const { p50Us, p99Us } = await echoRttOn(rtt, { samples: opts.roundTrips, payloadBytes: SMALL_FRAME_BYTES });
      await rtt.close();
      const bulk = await open(FORWARD_WINDOW_BYTES);
      const { mbPerSec } = await throughputOn(bulk, { totalBytes: opts.totalBytes, chunkBytes: CHUNK_BYTES });
      await bulk.close();
      await client.closeTunnel({ sessionId });
      return { p50Us, p99Us, mbPerSec };
    };
    const sameNode = await measure(createTechnicianClient(holder.url, token));
    const crossNode = await measure(createTechnicianClient(other.url, token));
    return { sameNode, crossNode };
  } finally {
    await agent?.stop();
    await other?.proc.stop();
    await holder?.proc.stop();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}
