import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChannelClient, type OpenChannelOptions } from "../../client/channel-client.js";
import { createTechnicianClient } from "../../client/technician-client.js";
import { ChannelType } from "../../gen/rmm/v1/frame_pb.js";
import { CloseReason, SessionState, type TunnelService } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { CommandAuditStore, openDatabase, parseDatabaseUrl, type Db } from "../../server/store/index.js";
import { startAgentRig, type AgentRig } from "../../testkit/agent-rig.js";
import { DIALECTS } from "../../testkit/test-databases.js";
import { until } from "../support/until.js";

const POLICY = {
  roles: {
    tech: {
      terminal: false,
      rules: [
        { name: "no-shutdown", effect: "deny", program: "shutdown" },
        { name: "everything-else", effect: "allow", program: "*" },
      ],
    },
  },
};
/** Short, so a released session is seen closed quickly. */
const GRACE = "300ms";

describe.each(DIALECTS)("one-shot channels and execs (agent_id instead of session_id) on %s", (dialect) => {
  let rig: AgentRig;
  let db: Db;
  let audit: CommandAuditStore;
  let offlineAgentId: string;

  const techClient = async (subject: string) => createTechnicianClient(rig.url, await rig.mintToken(subject, "tech"));
  const oneShot = (client: Client<typeof TunnelService>, agentId: string, argv: string[], sessionId = "") =>
    ChannelClient.open(client, {
      sessionId,
      agentId,
      type: ChannelType.EXEC,
      params: { case: "exec", value: { argv } },
    } satisfies OpenChannelOptions);
  const run = async (channel: ChannelClient) => {
    channel.endInput();
    let output = "";
    for await (const chunk of channel.chunks()) output += Buffer.from(chunk.data).toString();
    const end = await channel.ended;
    return { output, exitCode: end.exit?.exitCode, code: end.code };
  };
  const sessionsOf = async (client: Client<typeof TunnelService>, technician: string) =>
    (await client.listSessions({ technician, agentId: rig.agentId })).sessions;
  const codeOf = (err: unknown) => ConnectError.from(err).code;

  beforeAll(async () => {
    const policyFile = join(mkdtempSync(join(tmpdir(), "rmm-policy-")), "policy.json");
    writeFileSync(policyFile, JSON.stringify(POLICY));
    rig = await startAgentRig(dialect, { serverExtra: ["--policy", policyFile, "--ephemeral-grace", GRACE] });
    offlineAgentId = await rig.enrollAgent("never-started");
    db = openDatabase(parseDatabaseUrl(rig.dbUrl));
    audit = new CommandAuditStore(db);
  }, 60_000);
  afterAll(async () => {
    await db?.destroy();
    await rig?.stop();
  });

  it("runs the command on a session the server opens, audits it on that session, and releases the session after the channel", async () => {
    const bob = await techClient("bob");
    expect(await run(await oneShot(bob, rig.agentId, ["echo", "one-shot"]))).toEqual({
      output: "one-shot\n",
      exitCode: 0,
      code: 0,
    });
    const [session] = await sessionsOf(bob, "bob");
    expect(session).toMatchObject({ technician: "bob", ephemeral: true, agentId: rig.agentId });
    expect(await audit.forSession(session!.id)).toEqual([
      expect.objectContaining({ kind: "exec", technician: "bob", argv: JSON.stringify(["echo", "one-shot"]) }),
    ]);
    await until(
      async () => (await sessionsOf(bob, "bob"))[0]?.state === SessionState.CLOSED,
      "the one-shot session to be released",
    );
    expect((await sessionsOf(bob, "bob"))[0]).toMatchObject({ id: session!.id, closeReason: CloseReason.RELEASED });
  });

  it("runs on the technician's own live session when there is one, and leaves it open", async () => {
    const carol = await techClient("carol");
    const held = (await carol.openTunnel({ agentId: rig.agentId })).session!;
    expect((await run(await oneShot(carol, rig.agentId, ["true"]))).exitCode).toBe(0);
    expect((await audit.forSession(held.id)).map((r) => r.argv)).toEqual([JSON.stringify(["true"])]);
    expect(await sessionsOf(carol, "carol")).toEqual([expect.objectContaining({ id: held.id })]);
    expect((await carol.getTunnelStatus({ sessionId: held.id })).session!.state).toBe(SessionState.ACTIVE);
    await carol.closeTunnel({ sessionId: held.id });
  });

  it("refuses by policy with the command audited, and still releases the session it opened", async () => {
    const dave = await techClient("dave");
    const refused = await oneShot(dave, rig.agentId, ["shutdown", "-h", "now"]).catch((err: unknown) => err);
    expect(ConnectError.from(refused)).toMatchObject({ code: Code.PermissionDenied });
    expect(ConnectError.from(refused).rawMessage).toContain("no-shutdown");
    const [session] = await sessionsOf(dave, "dave");
    expect(await audit.forSession(session!.id)).toEqual([
      expect.objectContaining({ outcome: "refused", policy_rule: "no-shutdown", channel_id: null }),
    ]);
    await until(
      async () => (await sessionsOf(dave, "dave"))[0]?.state === SessionState.CLOSED,
      "the refused one-shot's session to be released",
    );
  });

  it("runs a one-shot Exec on a session the server opens and releases, audited on it; refuses both a session and an agent", async () => {
    const gina = await techClient("gina");
    let output = "";
    let exitCode: number | undefined;
    for await (const res of gina.exec({ agentId: rig.agentId, params: { argv: ["echo", "exec-one-shot"] } })) {
      if (res.kind.case === "output") output += Buffer.from(res.kind.value.data).toString();
      if (res.kind.case === "exit") exitCode = res.kind.value.exitCode;
    }
    expect([output, exitCode]).toEqual(["exec-one-shot\n", 0]);
    const [session] = await sessionsOf(gina, "gina");
    expect(session).toMatchObject({ technician: "gina", ephemeral: true });
    expect((await audit.forSession(session!.id)).map((r) => r.argv)).toEqual([
      JSON.stringify(["echo", "exec-one-shot"]),
    ]);
    await until(
      async () => (await sessionsOf(gina, "gina"))[0]?.state === SessionState.CLOSED,
      "the one-shot Exec's session to be released",
    );
    const both = async () => {
      for await (const res of gina.exec({ agentId: rig.agentId, sessionId: session!.id, params: { argv: ["true"] } }))
        void res;
    };
    expect(await both().then(() => "ran", codeOf)).toBe(Code.InvalidArgument);
    const missing = async () => {
      for await (const res of gina.exec({
        agentId: "00000000-0000-4000-8000-000000000000",
        params: { argv: ["true"] },
      }))
        void res;
    };
    expect(await missing().then(() => "ran", codeOf)).toBe(Code.NotFound);
  });

  it("answers a bad agent as OpenTunnel would, and both a session and an agent as InvalidArgument, opening nothing", async () => {
    const erin = await techClient("erin");
    const refusal = (agentId: string, sessionId = "") =>
      oneShot(erin, agentId, ["true"], sessionId).then(
        () => "opened",
        (err: unknown) => codeOf(err),
      );
    expect(await refusal("not-a-uuid")).toBe(Code.InvalidArgument);
    expect(await refusal("00000000-0000-4000-8000-000000000000")).toBe(Code.NotFound);
    expect(await refusal(offlineAgentId)).toBe(Code.FailedPrecondition);
    const held = (await erin.openTunnel({ agentId: rig.agentId })).session!;
    expect(await refusal(rig.agentId, held.id)).toBe(Code.InvalidArgument);
    await erin.closeTunnel({ sessionId: held.id });
    expect(await audit.forSession(held.id)).toEqual([]);
  });
});
