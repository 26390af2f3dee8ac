import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadOrCreateSigningSecret } from "../../server/auth/signing-secret.js";
import { TokenIssuer } from "../../server/auth/token-issuer.js";
import { OPEN_TIMEOUT_MS } from "../../server/server-config.js";
import { startServerProcess } from "../../testkit/managed-process.js";
import { createTestDatabase } from "../../testkit/test-databases.js";
import { Fleet } from "../fleet.js";

export interface BenchFleet {
  server: Awaited<ReturnType<typeof startServerProcess>>;
  fleet: Fleet;
  /** The simulated agents' ids, in enrollment order. */
  agentIds: string[];
  /** An admin token signed with the server's own key. */
  adminToken: string;
}

/**
 * `size` simulated agents online on one real server process with a fresh
 * database; `work` runs with them, and everything is stopped and removed
 * afterwards, whatever `work` did.
 */
export async function withBenchFleet<T>(
  store: "sqlite" | "mysql",
  size: number,
  opts: { progress?: (msg: string) => void; serverNodeArgs?: string[]; name: string },
  work: (rig: BenchFleet) => Promise<T>,
): Promise<T> {
  const progress = opts.progress ?? (() => undefined);
  const dir = mkdtempSync(join(tmpdir(), `rmm-bench-${opts.name}-`));
  const db = await createTestDatabase(store);
  const serverDir = join(dir, "server");
  const identities = join(dir, "identities.jsonl");
  const fleet = await Fleet.enroll(db.url, size, identities);
  const server = await startServerProcess({
    dataDir: serverDir,
    db: db.url,
    logLevel: "info",
    heartbeatInterval: "25s",
    offlineAfter: "75s",
    // The server's own default, not the test rigs' 2 s: a fan-out to 1,000 simulated agents sharing one
    // generator process keeps some channel opens waiting longer than that for their turn.
    extra: ["--open-timeout", `${OPEN_TIMEOUT_MS}ms`],
    ...(opts.serverNodeArgs && { nodeArgs: opts.serverNodeArgs }),
  });
  try {
    fleet.start(server.url);
    await fleet.waitOnline(size, 120_000, progress);
    const issuer = new TokenIssuer(loadOrCreateSigningSecret(serverDir).secret, "rmm-server", "rmm-api");
    const agentIds = readFileSync(identities, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { agentId: string }).agentId);
    return await work({ server, fleet, agentIds, adminToken: await issuer.mintTechnician("bench", "admin", 3_600) });
  } finally {
    await fleet.stop();
    await server.proc.stop();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}
