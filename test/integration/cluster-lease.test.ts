import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTechnicianClient } from "../../client/technician-client.js";
import { loadOrCreateSigningSecret } from "../../server/auth/signing-secret.js";
import { TokenIssuer } from "../../server/auth/token-issuer.js";
import { openDatabase, parseDatabaseUrl, SessionStore } from "../../server/store/index.js";
import { enrollWithAgentCli } from "../../testkit/agent-rig.js";
import { AGENT_MAIN, ManagedProcess, startServerProcess } from "../../testkit/managed-process.js";
import { PrivateMariaDb } from "../support/private-mariadb.js";
import { PrivateNats } from "../support/private-nats.js";
import { until } from "../support/until.js";

describe("a node whose lease lapsed while its database was away", () => {
  let maria: PrivateMariaDb;
  let nats: PrivateNats;
  let dir: string;
  let node: Awaited<ReturnType<typeof startServerProcess>>;
  let agent: ManagedProcess;
  let dbUrl: string;

  beforeAll(async () => {
    maria = await PrivateMariaDb.create();
    dbUrl = await maria.createDatabase();
    nats = await PrivateNats.start();
    dir = mkdtempSync(join(tmpdir(), "rmm-cluster-lease-"));
    node = await startServerProcess({
      dataDir: join(dir, "server"),
      db: dbUrl,
      extra: ["--cluster", nats.url, "--node-id", "solo", "--cluster-lease", "2s"],
    });
    const issuer = new TokenIssuer(loadOrCreateSigningSecret(join(dir, "server")).secret, "rmm-server", "rmm-api");
    const state = join(dir, "agent", "state.json");
    await enrollWithAgentCli(node.url, await issuer.mintEnrollment(600), state);
    agent = new ManagedProcess(AGENT_MAIN, ["run", "--state", state]);
    await agent.waitForLog((e) => e.msg === "connecting -> heartbeat", "the agent to reach heartbeat mode");
  }, 60_000);

  afterAll(async () => {
    await agent?.stop();
    await node?.proc.stop();
    await nats?.kill();
    await maria?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("drops the agents it holds once it renews again (other nodes may have closed their sessions), and they reconnect", async () => {
    const issuer = new TokenIssuer(loadOrCreateSigningSecret(join(dir, "server")).secret, "rmm-server", "rmm-api");
    const alice = createTechnicianClient(node.url, await issuer.mintTechnician("alice", "admin", 3_600));
    const agentId = (await alice.listAgents({})).agents[0]!.id;
    const session = (await alice.openTunnel({ agentId })).session!;

    const mark = node.proc.logs.length;
    await maria.kill();
    // Renewals fail until the lease is past its expiry: the node says so with a negative time left.
    await node.proc.waitForLog(
      (e) => e.msg === "cluster: could not renew the node lease; retrying" && Number(e.expiresInMs) < 0,
      "the lease to expire while the database is away",
      20_000,
      mark,
    );
    const agentMark = agent.logs.length;
    await maria.start();
    await node.proc.waitForLog(
      (e) => e.msg === "cluster: the node lease had expired; dropping the agents held here",
      "the node to drop its agents once it renews",
      30_000,
      mark,
    );
    await agent.waitForLog((e) => e.msg === "connecting -> heartbeat", "the agent to reconnect", 30_000, agentMark);
    const store = openDatabase(parseDatabaseUrl(dbUrl));
    try {
      await until(
        async () => (await new SessionStore(store).get(session.id))?.state === "closed",
        "the session held over the lapse to be closed",
        20_000,
      );
      expect((await new SessionStore(store).get(session.id))?.close_reason).toBe("agent_disconnected");
    } finally {
      await store.destroy();
    }
    expect((await alice.openTunnel({ agentId })).session?.nodeId).toBe("solo");
  });
});
