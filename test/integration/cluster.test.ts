import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChannelClient } from "../../client/channel-client.js";
import { downloadFile, uploadFile } from "../../client/file-transfer.js";
import { createJobClient } from "../../client/job-client.js";
import { createTechnicianClient } from "../../client/technician-client.js";
import { ChannelType } from "../../gen/rmm/v1/frame_pb.js";
import { StepState, type JobStep, type WatchJobResponse } from "../../gen/rmm/v1/job_service_pb.js";
import { CloseReason, SessionState, type TunnelService } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { loadOrCreateSigningSecret, SIGNING_SECRET_FILE } from "../../server/auth/signing-secret.js";
import { TokenIssuer } from "../../server/auth/token-issuer.js";
import { CommandAuditStore, openDatabase, parseDatabaseUrl, SessionStore, type Db } from "../../server/store/index.js";
import { enrollWithAgentCli } from "../../testkit/agent-rig.js";
import { AGENT_MAIN, ManagedProcess, startServerProcess } from "../../testkit/managed-process.js";
import { createTestDatabase, type TestDatabase } from "../../testkit/test-databases.js";
import { FailoverProxy } from "../support/failover-proxy.js";
import { PrivateNats } from "../support/private-nats.js";
import { until } from "../support/until.js";

/** Lease of the test nodes: a killed node's sessions close within it plus a sweep (a third of it). */
const LEASE = "2s";
const CLOSED_WITHIN_MS = 2_000 + 700 + 3_000;

type Node = Awaited<ReturnType<typeof startServerProcess>>;
type Tunnel = Client<typeof TunnelService>;

describe("a cluster of three server nodes on MariaDB and NATS", () => {
  let db: TestDatabase;
  let store: Db;
  let nats: PrivateNats;
  let dir: string;
  let dataDir: string;
  const nodes = new Map<string, Node>();
  let proxy: FailoverProxy;
  let issuer: TokenIssuer;
  const agents: ManagedProcess[] = [];
  /** Held by node a (first behind the proxy), then by b or c once a dies. */
  let roaming: string;
  /** Connected straight to node b. */
  let pinned: string;

  /** Nodes a and b share one data dir; c has its own and names the shared signing secret's file. */
  const startNode = async (id: string) => {
    const own = id === "c";
    const node = await startServerProcess({
      dataDir: own ? join(dir, "node-c") : dataDir,
      db: db.url,
      extra: [
        "--cluster",
        nats.url,
        "--node-id",
        id,
        "--cluster-lease",
        LEASE,
        ...(own
          ? ["--signing-secret-file", join(dataDir, SIGNING_SECRET_FILE), "--metrics-listen", "127.0.0.1:0"]
          : []),
      ],
    });
    nodes.set(id, node);
    return node;
  };
  const node = (id: string) => nodes.get(id)!;
  const tech = async (nodeId: string, subject: string): Promise<Tunnel> =>
    createTechnicianClient(node(nodeId).url, await issuer.mintTechnician(subject, "admin", 3_600));
  const runAgent = async (name: string) => {
    const proc = new ManagedProcess(AGENT_MAIN, ["run", "--state", join(dir, name, "state.json")]);
    await proc.waitForLog((e) => e.msg === "connecting -> heartbeat", `agent ${name} to reach heartbeat mode`);
    agents.push(proc);
    return proc;
  };
  const sessionRow = (id: string) => new SessionStore(store).get(id);
  /** Node c's rmm_cluster_link_up, from its metrics listener. */
  const linkUpOnC = async () => {
    const listening = node("c").proc.logs.findLast((e) => e.msg === "rmm-server listening");
    const text = await (await fetch(`${String(listening!.metrics)}/metrics`)).text();
    return /^rmm_cluster_link_up (\d)$/m.exec(text)?.[1];
  };

  beforeAll(async () => {
    db = await createTestDatabase("mysql");
    store = openDatabase(parseDatabaseUrl(db.url));
    nats = await PrivateNats.start();
    dir = mkdtempSync(join(tmpdir(), "rmm-cluster-"));
    dataDir = join(dir, "server");
    // One node migrates first; the others start on the migrated database together.
    await startNode("a");
    await startNode("b");
    await startNode("c");
    issuer = new TokenIssuer(loadOrCreateSigningSecret(dataDir).secret, "rmm-server", "rmm-api");
    proxy = new FailoverProxy(() => ["a", "b", "c"].filter((id) => node(id).proc.running).map((id) => node(id).port));
    await proxy.start();
    roaming = await enrollWithAgentCli(
      `http://127.0.0.1:${proxy.port}`,
      await issuer.mintEnrollment(600),
      join(dir, "roaming", "state.json"),
    );
    pinned = await enrollWithAgentCli(
      node("b").url,
      await issuer.mintEnrollment(600),
      join(dir, "pinned", "state.json"),
    );
    await Promise.all([runAgent("roaming"), runAgent("pinned")]);
  }, 60_000);

  afterAll(async () => {
    for (const a of agents) await a.stop();
    for (const n of nodes.values()) await n.proc.stop();
    await proxy?.stop();
    await nats?.kill();
    await store?.destroy();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("serves a technician on node c an agent held by node a: exec, a terminal, interleaved echo channels, upload and download", async () => {
    const alice = await tech("c", "alice");
    // Node c lists the whole fleet from the database, with the node holding each agent.
    const online = async () =>
      Object.fromEntries(
        (await alice.listAgents({ onlineOnly: true })).agents.map((a) => [a.id, `${a.online}@${a.nodeId}`]),
      );
    await until(async () => Object.keys(await online()).length === 2, "both agents to be listed online");
    expect(await online()).toEqual({ [roaming]: "true@a", [pinned]: "true@b" });
    // What only node a's stream knows (the hello's home directory, the last heartbeat), as node c answers it.
    await until(
      async () =>
        (await alice.listAgents({ onlineOnly: true })).agents.find((a) => a.id === roaming)?.health !== undefined,
      "node c to list the health node a's agent reports",
    );
    const listed = (await alice.listAgents({ onlineOnly: true })).agents.find((a) => a.id === roaming)!;
    const fetched = (await alice.getAgent({ agentId: roaming })).agent!;
    for (const agent of [listed, fetched]) {
      expect(agent.homeDirectory).toBe(homedir());
      expect(agent.health?.memoryTotalBytes).toBeGreaterThan(0n);
    }
    const session = (await alice.openTunnel({ agentId: roaming })).session!;
    expect(session.nodeId).toBe("a");
    expect((await alice.getTunnelStatus({ sessionId: session.id })).session).toMatchObject({
      state: SessionState.ACTIVE,
      nodeId: "a",
    });

    let output = "";
    let exit: number | undefined;
    for await (const res of alice.exec({
      sessionId: session.id,
      params: { shellCommand: { shell: "/bin/sh", commandLine: "echo from-$(hostname >/dev/null && echo agent)" } },
    })) {
      if (res.kind.case === "output") output += Buffer.from(res.kind.value.data).toString();
      if (res.kind.case === "exit") exit = res.kind.value.exitCode;
    }
    expect([output, exit]).toEqual(["from-agent\n", 0]);

    const terminal = await ChannelClient.open(alice, {
      sessionId: session.id,
      type: ChannelType.TERMINAL,
      params: { case: "terminal", value: { shell: "/bin/sh" } },
    });
    await terminal.write(Buffer.from("echo sum-$((20+22))\n"));
    let screen = "";
    for await (const chunk of terminal.data()) {
      screen += Buffer.from(chunk).toString();
      if (screen.includes("sum-42")) break;
    }
    terminal.close();
    expect(screen).toContain("sum-42");

    // Three echo channels at once, each carrying more than a window and more than one NATS message per data frame.
    const payloads = [0, 1, 2].map(() => randomBytes(700 * 1024));
    const echoed = await Promise.all(
      payloads.map(async (payload) => {
        const echo = await ChannelClient.open(alice, { sessionId: session.id, type: ChannelType.ECHO });
        const reading = (async () => {
          const parts: Buffer[] = [];
          let total = 0;
          for await (const chunk of echo.data()) {
            parts.push(Buffer.from(chunk));
            total += chunk.length;
            if (total >= payload.length) break;
          }
          return Buffer.concat(parts);
        })();
        await echo.write(payload);
        const back = await reading;
        echo.close();
        return back;
      }),
    );
    for (const [i, back] of echoed.entries()) expect(back.equals(payloads[i]!)).toBe(true);

    const original = join(dir, "original.bin");
    writeFileSync(original, randomBytes(3 * 1024 * 1024 + 17));
    const uploaded = await uploadFile(alice, {
      sessionId: session.id,
      localPath: original,
      remotePath: join(dir, "uploaded.bin"),
    });
    await downloadFile(alice, {
      sessionId: session.id,
      remotePath: join(dir, "uploaded.bin"),
      localPath: join(dir, "downloaded.bin"),
    });
    const digest = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");
    expect(uploaded.sha256).toBe(digest(original));
    expect(readFileSync(join(dir, "uploaded.bin")).equals(readFileSync(original))).toBe(true);
    expect(readFileSync(join(dir, "downloaded.bin")).equals(readFileSync(original))).toBe(true);

    expect((await alice.closeTunnel({ sessionId: session.id })).session?.state).toBe(SessionState.CLOSED);
    expect((await sessionRow(session.id))?.close_reason).toBe("closed_by_technician");
  });

  it("runs a one-shot exec channel and a one-shot Exec sent to node c for node a's agent on node a, on a session it opens there", async () => {
    const frank = await tech("c", "frank");
    const channel = await ChannelClient.open(frank, {
      sessionId: "",
      agentId: roaming,
      type: ChannelType.EXEC,
      params: { case: "exec", value: { argv: ["echo", "one-shot"] } },
    });
    channel.endInput();
    let output = "";
    for await (const chunk of channel.chunks()) output += Buffer.from(chunk.data).toString();
    expect([output, (await channel.ended).exit?.exitCode]).toEqual(["one-shot\n", 0]);
    const [session] = (await frank.listSessions({ technician: "frank" })).sessions;
    expect(session).toMatchObject({ agentId: roaming, nodeId: "a", ephemeral: true });
    expect((await new CommandAuditStore(store).forSession(session!.id)).map((r) => r.argv)).toEqual([
      JSON.stringify(["echo", "one-shot"]),
    ]);
    // A one-shot Exec through node c runs on node a too (on that session, or a new one if its grace ran out).
    let execOutput = "";
    for await (const res of frank.exec({ agentId: roaming, params: { argv: ["echo", "exec-one-shot"] } }))
      if (res.kind.case === "output") execOutput += Buffer.from(res.kind.value.data).toString();
    expect(execOutput).toBe("exec-one-shot\n");
    const [latest] = (await frank.listSessions({ technician: "frank" })).sessions;
    expect(latest).toMatchObject({ agentId: roaming, nodeId: "a" });
    expect((await new CommandAuditStore(store).forSession(latest!.id)).at(-1)?.argv).toBe(
      JSON.stringify(["echo", "exec-one-shot"]),
    );
    for (const s of [session!, latest!]) await frank.closeTunnel({ sessionId: s.id });
  });

  it("carries a technician's cancel across nodes: the command on node a's agent ends and its audit row says so", async () => {
    const alice = await tech("c", "alice");
    const session = (await alice.openTunnel({ agentId: roaming })).session!;
    const commands = new CommandAuditStore(store);
    const abort = new AbortController();
    const call = (async () => {
      for await (const res of alice.exec(
        { sessionId: session.id, params: { argv: ["/bin/sleep", "300"] } },
        { signal: abort.signal },
      ))
        void res;
    })().catch((err: unknown) => ConnectError.from(err));
    await until(
      async () => (await commands.forSession(session.id)).at(-1)?.outcome === "running",
      "the command to run on node a",
    );
    abort.abort();
    expect(await call).toMatchObject({ code: Code.Canceled });
    await until(
      async () => (await commands.forSession(session.id)).at(-1)?.outcome !== "running",
      "node a to end the command the technician on node c cancelled",
    );
    await alice.closeTunnel({ sessionId: session.id });
  });

  it("runs a job created on node c on agents held by nodes a and b, catches up an agent that connects later, and node a's watcher sees it all", async () => {
    const late = await enrollWithAgentCli(
      node("b").url,
      await issuer.mintEnrollment(600),
      join(dir, "late", "state.json"),
    );
    const token = await issuer.mintTechnician("erin", "admin", 3_600);
    const created = await createJobClient(node("c").url, token).createJob({
      agentIds: [roaming, pinned, late],
      params: { argv: ["/bin/echo", "fleet"] },
    });
    const jobId = created.job!.id;
    // Watched from node a, which neither created the job nor holds two of its agents.
    const messages: WatchJobResponse[] = [];
    const watching = (async () => {
      for await (const m of createJobClient(node("a").url, token).watchJob({ jobId })) messages.push(m);
    })();
    await until(() => messages.some((m) => m.kind.case === "snapshotDone"), "node a's watch to take its snapshot");
    const steps = new Map<string, JobStep>();
    const fold = () => {
      steps.clear();
      for (const m of messages) {
        if (m.kind.case === "snapshot") for (const s of m.kind.value.steps) steps.set(s.agentId, s);
        if (m.kind.case === "step") steps.set(m.kind.value.agentId, m.kind.value);
      }
      return steps;
    };
    await until(
      () => fold().get(roaming)?.state === StepState.SUCCEEDED && fold().get(pinned)?.state === StepState.SUCCEEDED,
      "the steps on node a's and node b's agents to succeed, as node a's watcher hears",
    );
    expect(fold().get(late)).toMatchObject({ state: StepState.PENDING, reason: "waiting for the agent to connect" });
    await runAgent("late");
    await watching;
    const last = messages.at(-1);
    expect(last?.kind.case).toBe("finished");
    expect(Object.fromEntries([...fold()].map(([id, s]) => [id, [StepState[s.state], s.exitCode]]))).toEqual({
      [roaming]: ["SUCCEEDED", 0],
      [pinned]: ["SUCCEEDED", 0],
      [late]: ["SUCCEEDED", 0],
    });
    const rows = await store
      .selectFrom("job_steps")
      .select(["agent_id", "node_id"])
      .where("job_id", "=", jobId)
      .execute();
    expect(Object.fromEntries(rows.map((r) => [r.agent_id, r.node_id]))).toEqual({
      [roaming]: "a",
      [pinned]: "b",
      [late]: "b",
    });
  });

  it("lets exactly one of two exclusive opens for one agent through two nodes win", async () => {
    const [carol, dave] = await Promise.all([tech("b", "carol"), tech("c", "dave")]);
    const results = await Promise.allSettled([
      carol.openTunnel({ agentId: roaming, exclusive: true }),
      dave.openTunnel({ agentId: roaming, exclusive: true }),
    ]);
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r) => r.status === "rejected");
    expect([won.length, lost.length]).toEqual([1, 1]);
    expect(ConnectError.from((lost[0] as PromiseRejectedResult).reason).code).toBe(Code.AlreadyExists);
    const winner = results[0]!.status === "fulfilled" ? carol : dave;
    const session = (won[0] as PromiseFulfilledResult<{ session?: { id: string } }>).value.session!;
    await winner.closeTunnel({ sessionId: session.id });
  });

  it("restarts a node without touching the sessions other nodes hold", async () => {
    const bob = await tech("b", "bob");
    const onB = (await bob.openTunnel({ agentId: pinned })).session!;
    const alice = await tech("c", "alice");
    const onA = (await alice.openTunnel({ agentId: roaming })).session!;
    await node("c").proc.stop();
    await startNode("c");
    const again = await tech("c", "alice");
    expect((await again.getTunnelStatus({ sessionId: onA.id })).session?.state).toBe(SessionState.ACTIVE);
    expect((await sessionRow(onB.id))?.state).toBe("active");
    await again.closeTunnel({ sessionId: onA.id });
    await bob.closeTunnel({ sessionId: onB.id });
  });

  it("keeps serving each node's own agents while NATS is down, fails cross-node calls Unavailable, and routes again once it is back", async () => {
    const bob = await tech("b", "bob");
    const onB = (await bob.openTunnel({ agentId: pinned })).session!;
    const fromC = await tech("c", "bob");
    expect(await linkUpOnC()).toBe("1");
    await nats.kill();
    await until(
      async () => {
        const err = await fromC.getTunnelStatus({ sessionId: onB.id }).then(
          () => undefined,
          (e: unknown) => ConnectError.from(e),
        );
        return err?.code === Code.Unavailable && /cluster link \(NATS\)/.test(err.rawMessage);
      },
      "a call through node c to node b's agent to fail Unavailable naming NATS",
      10_000,
    );
    expect(await linkUpOnC()).toBe("0");
    // Node b still serves its own agent.
    let output = "";
    for await (const res of bob.exec({ sessionId: onB.id, params: { argv: ["/bin/echo", "local"] } }))
      if (res.kind.case === "output") output += Buffer.from(res.kind.value.data).toString();
    expect(output).toBe("local\n");

    await nats.restart();
    await until(
      async () =>
        (await fromC.getTunnelStatus({ sessionId: onB.id }).then(
          (r) => r.session?.nodeId,
          () => undefined,
        )) === "b",
      "routing through node c to recover once NATS is back",
      15_000,
    );
    expect(await linkUpOnC()).toBe("1");
    await bob.closeTunnel({ sessionId: onB.id });
  });

  it("closes a killed node's sessions as node_lost from another node, leaves node b's alone, and its agent comes back on b or c", async () => {
    const alice = await tech("c", "alice");
    const onA = (await alice.openTunnel({ agentId: roaming })).session!;
    expect(onA.nodeId).toBe("a");
    const bob = await tech("b", "bob");
    const onB = (await bob.openTunnel({ agentId: pinned })).session!;

    // A command running on node a's session when it dies.
    const running = (async () => {
      for await (const res of alice.exec({ sessionId: onA.id, params: { argv: ["/bin/sleep", "300"] } }))
        if (res.kind.case === "exit") return res.kind.value;
      return undefined;
    })().catch((err: unknown) => ConnectError.from(err));
    const commands = new CommandAuditStore(store);
    await until(
      async () => (await commands.forSession(onA.id)).at(-1)?.outcome === "running",
      "the command to be running on node a",
    );

    // The balancer has not noticed yet: the agent's reconnects wait, so only the lease can end the session.
    proxy.hold();
    node("a").proc.signal("SIGKILL");
    await node("a").proc.exited;
    expect(await running).toMatchObject({ code: Code.Unavailable });
    await until(
      async () => (await sessionRow(onA.id))?.close_reason === "node_lost",
      "another node to close node a's session as node_lost",
      CLOSED_WITHIN_MS,
    );
    expect((await commands.forSession(onA.id)).at(-1)?.outcome).toBe("failed");
    proxy.release();
    expect((await alice.getTunnelStatus({ sessionId: onA.id })).session).toMatchObject({
      state: SessionState.CLOSED,
      closeReason: CloseReason.NODE_LOST,
    });
    expect((await sessionRow(onB.id))?.state).toBe("active");

    let reopened: string | undefined;
    await until(
      async () => {
        reopened = await alice.openTunnel({ agentId: roaming }).then(
          (r) => r.session?.nodeId,
          () => undefined,
        );
        return reopened !== undefined;
      },
      "the agent to come back on a live node",
      20_000,
    );
    expect(["b", "c"]).toContain(reopened);
    expect((await bob.getTunnelStatus({ sessionId: onB.id })).session?.state).toBe(SessionState.ACTIVE);
  });
});
