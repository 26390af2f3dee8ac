import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ChannelClient } from "../../client/channel-client.js";
import { ExecParamsSchema } from "../../gen/rmm/v1/exec_pb.js";
import { ChannelType } from "../../gen/rmm/v1/frame_pb.js";
import { CloseReason, SessionState, type TunnelService } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { startInProcessAgent, type InProcessAgent } from "../support/in-process-agent.js";
import { DIALECTS, createTestDatabase, type TestDatabase } from "../../testkit/test-databases.js";
import { startTestServer, type TestServer } from "../support/test-server.js";
import { until } from "../support/until.js";

async function execText(client: Client<typeof TunnelService>, sessionId: string, argv: string[]): Promise<string> {
  let out = "";
  for await (const res of client.exec({ sessionId, params: create(ExecParamsSchema, { argv }) }))
    if (res.kind.case === "output") out += Buffer.from(res.kind.value.data).toString();
  return out;
}

/** An echo channel, read through one iterator so that several round trips can share it. */
async function openEcho(client: Client<typeof TunnelService>, sessionId: string) {
  const channel = await ChannelClient.open(client, { sessionId, type: ChannelType.ECHO });
  const reader = channel.data()[Symbol.asyncIterator]();
  return {
    channel,
    async roundTrip(text: string): Promise<string> {
      await channel.write(Buffer.from(text));
      const next = await reader.next();
      return next.done ? "" : Buffer.from(next.value).toString();
    },
  };
}

const errorOf = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );

describe.each(DIALECTS)("several technicians on one agent (%s)", (dialect) => {
  let db: TestDatabase;
  let ts: TestServer;
  let agent: InProcessAgent;
  let alice: Client<typeof TunnelService>;
  let bob: Client<typeof TunnelService>;
  let dir: string;

  beforeEach(async () => {
    db = await createTestDatabase(dialect);
    ts = await startTestServer(db.url, { ephemeralGraceMs: 300 });
    agent = await startInProcessAgent(ts);
    alice = await ts.technician("alice");
    bob = await ts.technician("bob");
    dir = mkdtempSync(join(tmpdir(), "rmm-shared-"));
  });
  afterEach(async () => {
    await agent?.stop();
    await ts?.dispose();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("gives alice and bob a session each, with their own channels: exec interleaved with a terminal and an echo channel", async () => {
    const a = (await alice.openTunnel({ agentId: agent.agentId })).session!;
    const b = (await bob.openTunnel({ agentId: agent.agentId })).session!;
    expect(a.id).not.toBe(b.id);
    expect(agent.agent.mode).toEqual({ type: "tunnel", sessions: [a.id, b.id] });
    const aliceEcho = await openEcho(alice, a.id);
    const bobTerminal = await ChannelClient.open(bob, {
      sessionId: b.id,
      type: ChannelType.TERMINAL,
      params: { case: "terminal", value: { shell: "/bin/sh", size: { columns: 80, rows: 24 } } },
    });
    const terminalOutput = (async () => {
      let out = "";
      for await (const chunk of bobTerminal.data()) out += Buffer.from(chunk).toString();
      return out;
    })();
    await bobTerminal.write(Buffer.from("echo term-$((6*7)); exit 0\n"));
    const [bobOut, aliceEchoed, aliceOut] = await Promise.all([
      execText(bob, b.id, ["echo", "bob"]),
      aliceEcho.roundTrip("alice-echo"),
      execText(alice, a.id, ["echo", "alice"]),
    ]);
    expect([bobOut, aliceEchoed, aliceOut]).toEqual(["bob\n", "alice-echo", "alice\n"]);
    expect((await bobTerminal.ended).exit).toMatchObject({ exitCode: 0 });
    expect(await terminalOutput).toContain("term-42");
    // Each sees the other's session as taken, not its id.
    const err = await errorOf(execText(bob, a.id, ["true"]));
    expect(err?.code).toBe(Code.PermissionDenied);
    const listed = (await bob.listAgents({})).agents[0]!;
    expect(listed.activeSessionId).toBe(b.id);
    expect(listed.sessionHolders.map((h) => [h.technician, h.sessionId]).sort()).toEqual([
      ["alice", ""],
      ["bob", b.id],
    ]);
    // Bob closing his session leaves alice's channel running.
    await bob.closeTunnel({ sessionId: b.id });
    expect(await aliceEcho.roundTrip("still")).toBe("still");
    await until(() => agent.agent.mode.type === "tunnel" && agent.agent.mode.sessions.length === 1, "bob's left");
    aliceEcho.channel.close();
  });

  it("refuses an exclusive open while others hold sessions, and refuses others while it is held, naming the holder", async () => {
    const b = (await bob.openTunnel({ agentId: agent.agentId })).session!;
    const refused = await errorOf(alice.openTunnel({ agentId: agent.agentId, exclusive: true }));
    expect(refused?.code).toBe(Code.AlreadyExists);
    expect(refused?.rawMessage).toMatch(/has sessions of bob: an exclusive open needs the agent free/);
    expect(refused?.rawMessage).not.toContain(b.id);
    await bob.closeTunnel({ sessionId: b.id });

    const a = (await alice.openTunnel({ agentId: agent.agentId, exclusive: true })).session!;
    expect(a.exclusive).toBe(true);
    const blocked = await errorOf(bob.openTunnel({ agentId: agent.agentId }));
    expect(blocked?.code).toBe(Code.AlreadyExists);
    expect(blocked?.rawMessage).toMatch(/is held exclusively by alice since/);
    expect(blocked?.rawMessage).not.toContain(a.id);
    const admin = await ts.technician("root", "admin");
    expect((await errorOf(admin.openTunnel({ agentId: agent.agentId })))?.rawMessage).toContain(a.id);
  });

  it("keeps a command's session while another command of the same technician uses it: the shell's exit does not end the exec", async () => {
    // What `rmm shell` and `rmm exec` do: each opens ephemeral and never closes.
    const shell = await alice.openTunnel({ agentId: agent.agentId, ephemeral: true });
    const exec = await alice.openTunnel({ agentId: agent.agentId, ephemeral: true });
    expect(exec.reused).toBe(true);
    const sessionId = shell.session!.id;
    expect(exec.session!.id).toBe(sessionId);
    const shellChannel = await ChannelClient.open(alice, { sessionId, type: ChannelType.ECHO });
    const flag = join(dir, "go");
    const running = execText(alice, sessionId, [
      "sh",
      "-c",
      `while [ ! -e '${flag}' ]; do sleep 0.02; done; echo finished`,
    ]);
    await until(() => agent.agent.mode.type === "tunnel", "the exec running");
    shellChannel.close();
    await shellChannel.ended;
    // The exec's channel keeps the session however long the shell has been gone.
    const status = async () => (await alice.getTunnelStatus({ sessionId })).session!;
    expect((await status()).state).toBe(SessionState.ACTIVE);
    writeFileSync(flag, "");
    expect(await running).toBe("finished\n");
    // Once the last channel has closed and the grace has passed, the server releases it.
    await until(async () => (await status()).state === SessionState.CLOSED, "the ephemeral session released");
    expect((await status()).closeReason).toBe(CloseReason.RELEASED);
    await until(() => agent.agent.mode.type === "heartbeat", "the agent back in heartbeat mode");
  });

  it("gives two commands of one technician that start at once the same session", async () => {
    const [first, second] = await Promise.all([
      alice.openTunnel({ agentId: agent.agentId, ephemeral: true }),
      alice.openTunnel({ agentId: agent.agentId, ephemeral: true }),
    ]);
    expect(first.session!.id).toBe(second.session!.id);
    expect([first.reused, second.reused].sort()).toEqual([false, true]);
  });

  it("keeps an explicit session open after a command reused it", async () => {
    const explicit = (await alice.openTunnel({ agentId: agent.agentId })).session!;
    const reused = await alice.openTunnel({ agentId: agent.agentId, ephemeral: true });
    expect(reused.session!.id).toBe(explicit.id);
    expect(await execText(alice, explicit.id, ["echo", "ok"])).toBe("ok\n");
    const again = await errorOf(alice.openTunnel({ agentId: agent.agentId }));
    expect(again?.code).toBe(Code.AlreadyExists);
    expect(again?.rawMessage).toContain(explicit.id);
    expect((await alice.getTunnelStatus({ sessionId: explicit.id })).session?.state).toBe(SessionState.ACTIVE);
  });
});
