import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChannelClient } from "../../client/channel-client.js";
import { createTechnicianClient } from "../../client/technician-client.js";
import { ChannelType } from "../../gen/rmm/v1/frame_pb.js";
import { CloseReason, SessionState, TunnelService } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { loadOrCreateSigningSecret } from "../../server/auth/signing-secret.js";
import { TokenIssuer } from "../../server/auth/token-issuer.js";
import { AGENT_MAIN, ManagedProcess, SERVER_MAIN, startServerProcess } from "../../testkit/managed-process.js";
import { enrollWithAgentCli } from "../../testkit/agent-rig.js";
import { until } from "../support/until.js";
import { SERVER_VARIANTS } from "../../testkit/server-variants.js";
import { createTestDatabase, type TestDatabase } from "../../testkit/test-databases.js";

const run = promisify(execFile);

async function echo(channel: ChannelClient, payload: Uint8Array): Promise<Buffer> {
  const received: Buffer[] = [];
  let total = 0;
  const reading = (async () => {
    for await (const chunk of channel.data()) {
      received.push(Buffer.from(chunk));
      total += chunk.length;
      if (total >= payload.length) return;
    }
  })();
  await channel.write(payload);
  await reading;
  return Buffer.concat(received);
}

describe.each(SERVER_VARIANTS)("a real agent process on $label", ({ dialect, serverFlags }) => {
  let db: TestDatabase;
  let dir: string;
  let server: Awaited<ReturnType<typeof startServerProcess>>;
  let agent: ManagedProcess;
  let agentId: string;
  let alice: Client<typeof TunnelService>;
  const statePath = () => join(dir, "agent", "state.json");
  const serverDir = () => join(dir, "server");
  const transitions = () => agent.logs.filter((e) => typeof e.from === "string").map((e) => e.msg as string);

  const startAgent = async () => {
    agent = new ManagedProcess(AGENT_MAIN, ["run", "--state", statePath()]);
    await agent.waitForLog((e) => e.msg === "connecting -> heartbeat", "the agent to reach heartbeat mode");
  };

  beforeAll(async () => {
    db = await createTestDatabase(dialect);
    dir = mkdtempSync(join(tmpdir(), "rmm-agent-it-"));
    server = await startServerProcess({ dataDir: serverDir(), db: db.url, extra: serverFlags });
    const issuer = new TokenIssuer(loadOrCreateSigningSecret(serverDir()).secret, "rmm-server", "rmm-api");
    agentId = await enrollWithAgentCli(server.url, await issuer.mintEnrollment(600), statePath());
    const token = await issuer.mintTechnician("alice", "tech", 3_600);
    alice = createTechnicianClient(server.url, token);
    await startAgent();
  });
  afterAll(async () => {
    await agent?.stop();
    await server?.proc.stop();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps its credential in a state file only its owner can read, and is listed online", async () => {
    expect(statSync(statePath()).mode & 0o777).toBe(0o600);
    const listed = await alice.listAgents({ onlineOnly: true });
    expect(listed.agents.map((a) => [a.id, a.capabilities])).toEqual([
      [agentId, [ChannelType.TERMINAL, ChannelType.EXEC, ChannelType.ECHO, ChannelType.FILE, ChannelType.TCP]],
    ]);
  });

  it("serves eight echo channels at once over one tunnel, every byte back on its own channel", async () => {
    const { session } = await alice.openTunnel({ agentId });
    const payloads = Array.from({ length: 8 }, () => randomBytes(600 * 1024));
    const channels = await Promise.all(
      payloads.map(() => ChannelClient.open(alice, { sessionId: session!.id, type: ChannelType.ECHO })),
    );
    expect(new Set(channels.map((c) => c.channelId)).size).toBe(8);
    const echoed = await Promise.all(channels.map((c, i) => echo(c, payloads[i]!)));
    echoed.forEach((bytes, i) => expect(bytes.equals(payloads[i]!), `channel ${i}`).toBe(true));
    for (const c of channels) c.close();
    expect((await Promise.all(channels.map((c) => c.ended))).map((e) => e.code)).toEqual(Array(8).fill(0));
    await alice.closeTunnel({ sessionId: session!.id });
  });

  it("lets a stalled channel wait without stalling the others", async () => {
    const { session } = await alice.openTunnel({ agentId });
    const stalled = await ChannelClient.open(alice, { sessionId: session!.id, type: ChannelType.ECHO });
    // Never read what it echoes: once both windows are full its writer must wait.
    let stalledDone = false;
    const stalledWrite = stalled.write(randomBytes(4 * 1024 * 1024)).then(
      () => (stalledDone = true),
      () => (stalledDone = true),
    );
    const healthy = await ChannelClient.open(alice, { sessionId: session!.id, type: ChannelType.ECHO });
    const payload = randomBytes(2 * 1024 * 1024);
    expect((await echo(healthy, payload)).equals(payload)).toBe(true);
    expect(stalledDone).toBe(false);
    await alice.closeTunnel({ sessionId: session!.id });
    // Closing the tunnel ends the stalled channel and releases its writer.
    await stalledWrite;
    expect((await stalled.ended).code).toBe(Code.Unavailable);
  });

  it("goes back to heartbeat mode on the same stream when the tunnel closes", async () => {
    const before = transitions().filter((t) => t === "idle -> connecting" || t.endsWith("-> backoff")).length;
    const { session } = await alice.openTunnel({ agentId });
    await alice.closeTunnel({ sessionId: session!.id });
    await agent.waitForLog((e) => e.msg === "tunnel -> heartbeat", "tunnel -> heartbeat");
    expect(transitions().filter((t) => t === "idle -> connecting" || t.endsWith("-> backoff")).length).toBe(before);
  });

  it("refuses a second tunnel while one is open, naming the session that holds the agent", async () => {
    const { session } = await alice.openTunnel({ agentId });
    const err = await alice.openTunnel({ agentId }).catch((e: unknown) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.AlreadyExists);
    expect((err as ConnectError).rawMessage).toContain(session!.id);
    await alice.closeTunnel({ sessionId: session!.id });
  });

  it("refuses channels on closed sessions and channel types the agent does not serve", async () => {
    const { session } = await alice.openTunnel({ agentId });
    const unsupported = await ChannelClient.open(alice, { sessionId: session!.id, type: ChannelType.SERVICE }).catch(
      (e: unknown) => ConnectError.from(e),
    );
    expect((unsupported as ConnectError).code).toBe(Code.Unimplemented);
    await alice.closeTunnel({ sessionId: session!.id });
    const closed = await ChannelClient.open(alice, { sessionId: session!.id, type: ChannelType.ECHO }).catch(
      (e: unknown) => ConnectError.from(e),
    );
    expect((closed as ConnectError).code).toBe(Code.FailedPrecondition);
    const bob = createClient(TunnelService, createGrpcTransport({ baseUrl: server.url }));
    expect(
      await ChannelClient.open(bob, { sessionId: session!.id, type: ChannelType.ECHO }).catch(
        (e: unknown) => ConnectError.from(e).code,
      ),
    ).toBe(Code.Unauthenticated);
  });

  it("reconnects after the server is killed and restarted, and the stale session is closed", async () => {
    const { session } = await alice.openTunnel({ agentId });
    const mark = agent.logs.length;
    await server.proc.stop("SIGKILL");
    await agent.waitForLog(
      (e) => typeof e.msg === "string" && e.msg.endsWith("-> backoff"),
      "the agent to back off",
      10_000,
      mark,
    );
    server = await startServerProcess({ dataDir: serverDir(), db: db.url, port: server.port, extra: serverFlags });
    await agent.waitForLog((e) => e.msg === "connecting -> heartbeat", "the agent to reconnect", 15_000, mark);
    const after = (await alice.getTunnelStatus({ sessionId: session!.id })).session;
    expect(after).toMatchObject({ state: SessionState.CLOSED, closeReason: CloseReason.SERVER_RESTART });
  });

  it("closes the session at once when the agent is killed", async () => {
    const { session } = await alice.openTunnel({ agentId });
    await agent.stop("SIGKILL");
    await until(
      async () => (await alice.getTunnelStatus({ sessionId: session!.id })).session?.state === SessionState.CLOSED,
      "the session to close",
      5_000,
    );
    expect((await alice.getTunnelStatus({ sessionId: session!.id })).session?.closeReason).toBe(
      CloseReason.AGENT_DISCONNECTED,
    );
    await startAgent();
  });

  it("is cut off when revoked, and told why", async () => {
    const mark = agent.logs.length;
    await run(process.execPath, [SERVER_MAIN, "revoke-agent", agentId, "--data-dir", serverDir(), "--db", db.url]);
    const refused = await agent.waitForLog(
      (e) => e.msg === "server refused this agent's credential; enroll again if it was revoked",
      "the refusal",
      15_000,
      mark,
    );
    expect(String(refused.reason)).toMatch(/PermissionDenied: .*revoked/);
    expect((await alice.listAgents({ onlineOnly: true })).agents).toEqual([]);
  });
});
