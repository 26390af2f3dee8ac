import { readFileSync } from "node:fs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTechnicianClient } from "../../client/technician-client.js";
import { loadOrCreateSigningSecret } from "../../server/auth/signing-secret.js";
import { TokenIssuer } from "../../server/auth/token-issuer.js";
import { NodeStore, openDatabase, parseDatabaseUrl, type Db } from "../../server/store/index.js";
import { enrollWithAgentCli } from "../../testkit/agent-rig.js";
import { AGENT_MAIN, ManagedProcess, SERVER_MAIN } from "../../testkit/managed-process.js";
import { createTestDatabase, type TestDatabase } from "../../testkit/test-databases.js";
import { PrivateNats } from "../support/private-nats.js";
import { until } from "../support/until.js";

/** The pids of a process's children (Linux /proc). */
function childrenOf(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
}

describe("rmm-server serve --cluster flags", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "rmm-cluster-flags-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const refusal = async (args: string[]) => {
    const proc = new ManagedProcess(SERVER_MAIN, ["serve", "--listen", "127.0.0.1:0", "--data-dir", dir, ...args]);
    expect(await proc.exited).toBe(1);
    return proc.logs.map((e) => e.msg).join("\n");
  };

  it("refuses cluster mode on SQLite, saying it needs MySQL", async () => {
    expect(await refusal(["--cluster", "nats://127.0.0.1:4222", "--db", `sqlite:${join(dir, "rmm.sqlite")}`])).toMatch(
      /--cluster needs MySQL or MariaDB \(--db mysql:/,
    );
  });

  it("refuses cluster flags without --cluster, a bad NATS URL, a bad node id and workers without --cluster", async () => {
    expect(await refusal(["--node-id", "a"])).toMatch(/--node-id needs --cluster nats:\/\/HOST:4222/);
    expect(await refusal(["--cluster", "http://x"])).toMatch(/"http:\/\/x" is not a NATS URL/);
    expect(await refusal(["--cluster", "nats://127.0.0.1:4222", "--node-id", "a.b"])).toMatch(
      /--node-id "a.b" must be 1-64 letters/,
    );
    expect(await refusal(["--workers", "3"])).toMatch(/--workers needs --cluster/);
  });

  it("refuses a --signing-secret-file that is not there rather than making a key the other nodes lack", async () => {
    const missing = join(dir, "shared", "jwt-secret.key");
    expect(await refusal(["--signing-secret-file", missing])).toMatch(
      new RegExp(`signing secret file ${missing}: ENOENT`),
    );
  });
});

describe("several node processes on one port (--workers)", () => {
  let db: TestDatabase;
  let store: Db;
  let nats: PrivateNats;
  let dir: string;
  let pool: ManagedProcess;
  let agent: ManagedProcess;
  let agentId: string;
  let url: string;
  let issuer: TokenIssuer;

  beforeAll(async () => {
    db = await createTestDatabase("mysql");
    store = openDatabase(parseDatabaseUrl(db.url));
    nats = await PrivateNats.start();
    dir = mkdtempSync(join(tmpdir(), "rmm-cluster-pool-"));
    const dataDir = join(dir, "server");
    pool = new ManagedProcess(SERVER_MAIN, [
      "serve",
      "--listen",
      "127.0.0.1:0",
      "--data-dir",
      dataDir,
      "--db",
      db.url,
      "--heartbeat-interval",
      "300ms",
      "--offline-after",
      "1500ms",
      "--cluster",
      nats.url,
      "--node-id",
      "pool",
      "--cluster-lease",
      "2s",
      "--workers",
      "3",
    ]);
    await until(
      () => pool.logs.filter((e) => e.msg === "rmm-server listening").length === 3,
      "three workers to listen",
      30_000,
    );
    const listening = pool.logs.filter((e) => e.msg === "rmm-server listening");
    url = String(listening[0]!.url);
    expect(new Set(listening.map((e) => e.url))).toEqual(new Set([url]));
    issuer = new TokenIssuer(loadOrCreateSigningSecret(dataDir).secret, "rmm-server", "rmm-api");
    agentId = await enrollWithAgentCli(url, await issuer.mintEnrollment(600), join(dir, "agent", "state.json"));
    agent = new ManagedProcess(AGENT_MAIN, ["run", "--state", join(dir, "agent", "state.json")]);
    await agent.waitForLog((e) => e.msg === "connecting -> heartbeat", "the agent to reach heartbeat mode");
  }, 60_000);

  afterAll(async () => {
    await agent?.stop();
    await pool?.stop();
    await nats?.kill();
    await store?.destroy();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("makes each worker its own node with a lease, and serves every technician connection whichever worker takes it", async () => {
    const nodes = new NodeStore(store);
    await until(async () => (await nodes.all()).length === 3, "three leases");
    expect((await nodes.all()).map((n) => n.id)).toEqual(["pool-1", "pool-2", "pool-3"]);
    const token = await issuer.mintTechnician("alice", "admin", 3_600);
    const owner = createTechnicianClient(url, token);
    const session = (await owner.openTunnel({ agentId })).session!;
    // Each client is its own HTTP/2 connection, handed to the workers in turn: most land on a node without the agent.
    const outputs = await Promise.all(
      [0, 1, 2, 3, 4, 5].map(async (i) => {
        const client = createTechnicianClient(url, token);
        let out = "";
        for await (const res of client.exec({ sessionId: session.id, params: { argv: ["/bin/echo", `call-${i}`] } }))
          if (res.kind.case === "output") out += Buffer.from(res.kind.value.data).toString();
        return out;
      }),
    );
    expect(outputs).toEqual([0, 1, 2, 3, 4, 5].map((i) => `call-${i}\n`));
    await owner.closeTunnel({ sessionId: session.id });
  });

  it("restarts a worker killed outright under the same node id", async () => {
    const [victim] = childrenOf(pool.pid);
    const before = pool.logs.length;
    process.kill(victim!, "SIGKILL");
    await pool.waitForLog((e) => e.msg === "server worker died; restarting it", "the pool to notice", 10_000, before);
    const back = await pool.waitForLog(
      (e) => e.msg === "rmm-server listening",
      "the worker to listen again",
      30_000,
      before,
    );
    expect(["pool-1", "pool-2", "pool-3"]).toContain(back.nodeId);
    expect(back.url).toBe(url);
  });
});
