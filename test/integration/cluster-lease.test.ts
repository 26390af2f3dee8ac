import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTechnicianClient } from "../../client/technician-client.js";
import { loadOrCreateSigningSecret } from "../../server/auth/signing-secret.js";
import { TokenIssuer } from "../../server/auth/token-issuer.js";
import { NodeStore, openDatabase, parseDatabaseUrl, SessionStore } from "../../server/store/index.js";
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

  it("keeps its agents when it renews late but unreclaimed; drops them once another node reclaimed it, and they reconnect", async () => {
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
    // No other node reaped it (there is none): its row is still there, so nothing it holds was closed.
    await node.proc.waitForLog(
      (e) => e.msg === "cluster: the node lease was renewed after it had expired" && e.reclaimed === false,
      "the late renewal",
      30_000,
      mark,
    );
    const store = openDatabase(parseDatabaseUrl(dbUrl));
    try {
      expect(node.proc.logs.slice(mark).some((e) => String(e.msg).includes("dropping the agents"))).toBe(false);
      expect(agent.logs.slice(agentMark).some((e) => e.msg === "connecting -> heartbeat")).toBe(false);
      expect((await new SessionStore(store).get(session.id))?.state).not.toBe("closed");

      // What a reaper does last, after closing what the node held: the next renewal finds no row to extend.
      const reclaimMark = node.proc.logs.length;
      await new NodeStore(store).forget("solo");
      await node.proc.waitForLog(
        (e) =>
          e.msg === "cluster: another node reclaimed this one (its lease had expired); dropping the agents held here",
        "the node to drop its agents once it renews",
        30_000,
        reclaimMark,
      );
      await agent.waitForLog((e) => e.msg === "connecting -> heartbeat", "the agent to reconnect", 30_000, agentMark);
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
