import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Client } from "@connectrpc/connect";
import { createTechnicianClient } from "../../client/technician-client.js";
import type { TunnelService } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { loadOrCreateSigningSecret } from "../../server/auth/signing-secret.js";
import { TokenIssuer } from "../../server/auth/token-issuer.js";
import { AGENT_MAIN, ManagedProcess, startServerProcess } from "../../testkit/managed-process.js";
import { createTestDatabase, type Dialect } from "../../testkit/test-databases.js";

export interface TunnelRig {
  client: Client<typeof TunnelService>;
  agentId: string;
  /** The server's URL and the technician token `client` uses (for the rmm CLI). */
  url: string;
  token: string;
  stop(): Promise<void>;
}

/**
 * A real rmm-server process, one real rmm-agent process enrolled through
 * the CLI (both started with `nodeArgs`), and a technician client.
 */
export async function startTunnelRig(
  store: Dialect,
  nodeArgs: readonly string[],
  /** More `rmm-server serve` flags (the bench's --no-fast-path). */
  serverExtra: readonly string[] = [],
): Promise<TunnelRig> {
  const dir = mkdtempSync(join(tmpdir(), "rmm-bench-rig-"));
  const db = await createTestDatabase(store);
  const server = await startServerProcess({
    dataDir: join(dir, "server"),
    db: db.url,
    nodeArgs: [...nodeArgs],
    logLevel: "info",
    heartbeatInterval: "25s",
    offlineAfter: "75s",
    extra: [...serverExtra],
  });
  let agent: ManagedProcess | undefined;
  const stop = async () => {
    await agent?.stop();
    await server.proc.stop();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const issuer = new TokenIssuer(loadOrCreateSigningSecret(join(dir, "server")).secret, "rmm-server", "rmm-api");
    const statePath = join(dir, "agent.json");
    const { stdout } = await promisify(execFile)(process.execPath, [
      AGENT_MAIN,
      "enroll",
      "--server",
      server.url,
      "--token",
      await issuer.mintEnrollment(60),
      "--state",
      statePath,
    ]);
    const agentId = /enrolled as (\S+);/.exec(stdout)![1]!;
    agent = new ManagedProcess(AGENT_MAIN, ["run", "--state", statePath], {
      nodeArgs: [...nodeArgs],
      logLevel: "info",
    });
    await agent.waitForLog((e) => e.msg === "connecting -> heartbeat", "the agent online");
    const token = await issuer.mintTechnician("bench", "tech", 3_600);
    return { client: createTechnicianClient(server.url, token), agentId, url: server.url, token, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}
