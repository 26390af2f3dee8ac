import { randomUUID } from "node:crypto";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it, onTestFinished } from "vitest";
import { CloseReason, SessionState, type TunnelService } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { AuditStore, openDatabase, parseDatabaseUrl } from "../../server/store/index.js";
import { FakeAgent } from "../support/fake-agent.js";
import { until } from "../support/until.js";
import { createTestDatabase, DIALECTS, type TestDatabase } from "../../testkit/test-databases.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

async function expectCode(promise: Promise<unknown>, code: Code, message?: RegExp): Promise<ConnectError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  expect(err, "expected the call to fail").toBeDefined();
  expect(Code[err!.code]).toBe(Code[code]);
  if (message) expect(err!.rawMessage).toMatch(message);
  return err!;
}

describe.each(DIALECTS)("control plane on %s", (dialect) => {
  let db: TestDatabase;
  let ts: TestServer;
  let alice: Client<typeof TunnelService>;
  const agents: FakeAgent[] = [];

  async function onlineAgent(): Promise<FakeAgent> {
    const token = await ts.server.issuer.mintEnrollment(600);
    const identity = await FakeAgent.enroll(ts.agentClient(), token);
    const agent = FakeAgent.connect(ts.agentClient(), identity);
    agents.push(agent);
    await agent.waitFor("helloAck");
    await until(() => ts.server.registry.get(agent.agentId) !== undefined, "agent online");
    return agent;
  }

  async function auditActions(sessionId: string): Promise<string[]> {
    const handle = openDatabase(parseDatabaseUrl(db.url));
    try {
      return (await new AuditStore(handle).forSession(sessionId)).map((e) => `${e.action}:${e.outcome}`);
    } finally {
      await handle.destroy();
    }
  }

  beforeEach(async () => {
    db = await createTestDatabase(dialect);
    ts = await startTestServer(db.url);
    alice = await ts.technician("alice");
  });
  afterEach(async () => {
    for (const a of agents.splice(0)) a.kill();
    await ts.dispose();
    await db.drop();
  });

  describe("an enrolled agent", () => {
    it("gets its settings at once and is listed online, then offline when it hangs up", async () => {
      const agent = await onlineAgent();
      const ack = await agent.waitFor("helloAck");
      expect(ack.heartbeatIntervalMs).toBe(200);
      expect(ack.maxMessageBytes).toBeGreaterThan(64 * 1024);

      const listed = await alice.listAgents({});
      expect(listed.agents.map((a) => [a.id, a.online, a.hostname])).toEqual([
        [agent.agentId, true, `host-${agent.agentId.slice(0, 8)}`],
      ]);
      expect(listed.agents[0]?.lastSeenTime).toBeDefined();

      agent.hangUp();
      await until(async () => !(await alice.listAgents({})).agents[0]?.online, "agent offline");
      expect((await alice.listAgents({ onlineOnly: true })).agents).toEqual([]);
    });

    it("is offline once it misses its heartbeats, and last-seen reaches the database in batches", async () => {
      const agent = await onlineAgent();
      // The fake agent sends nothing after hello: the server ends the stream after offlineAfterMs.
      const ended = await agent.ended;
      expect(ended && ConnectError.from(ended).code).toBe(Code.DeadlineExceeded);
      await until(async () => !(await alice.listAgents({})).agents[0]?.online, "agent offline");
      expect((await alice.listAgents({})).agents[0]?.lastSeenTime).toBeDefined();
    });

    it("keeps only the newest stream when it connects twice", async () => {
      const first = await onlineAgent();
      const second = FakeAgent.connect(ts.agentClient(), first.identity);
      agents.push(second);
      await second.waitFor("helloAck");
      const ended = await first.ended;
      expect(ended && ConnectError.from(ended).code).toBe(Code.Aborted);
      expect(ended?.message).toMatch(/replaced by a newer connection/);
      expect(ts.server.registry.size).toBe(1);
      expect((await alice.listAgents({})).agents[0]?.online).toBe(true);
    });

    it("cannot claim another agent's id", async () => {
      const victim = await onlineAgent();
      const token = await ts.server.issuer.mintEnrollment(600);
      const mallory = FakeAgent.connect(ts.agentClient(), await FakeAgent.enroll(ts.agentClient(), token, "mallory"), {
        helloAgentId: victim.agentId,
      });
      const ended = await mallory.ended;
      expect(ended && ConnectError.from(ended).code).toBe(Code.PermissionDenied);
      expect(ts.server.registry.get(victim.agentId)).toBeDefined();
    });

    it("is refused with an unknown or forged credential, and once revoked", async () => {
      const forged = FakeAgent.connect(ts.agentClient(), { agentId: randomUUID(), credential: `${randomUUID()}.AAAA` });
      expect(ConnectError.from(await forged.ended).code).toBe(Code.Unauthenticated);
      const agent = await onlineAgent();
      // Heartbeats keep it online however long the steps below take on a loaded machine, so the end
      // it sees can only be the revocation's, never the offline-after timer's.
      const beating = setInterval(() => agent.send({ case: "heartbeat", value: {} }), 100);
      onTestFinished(() => clearInterval(beating));
      const wrongSecret = FakeAgent.connect(ts.agentClient(), {
        agentId: agent.agentId,
        credential: `${agent.agentId}.not-the-secret`,
      });
      expect(ConnectError.from(await wrongSecret.ended).code).toBe(Code.Unauthenticated);

      const handle = openDatabase(parseDatabaseUrl(db.url));
      try {
        await handle.updateTable("agents").set({ revoked_at: Date.now() }).where("id", "=", agent.agentId).execute();
      } finally {
        await handle.destroy();
      }
      // Live streams of a revoked agent end within one last-seen flush after it is next heard from.
      agent.send({ case: "heartbeat", value: {} });
      expect(ConnectError.from(await agent.ended).code).toBe(Code.PermissionDenied);
      const again = FakeAgent.connect(ts.agentClient(), agent.identity);
      const refused = ConnectError.from(await again.ended);
      expect(refused.code).toBe(Code.PermissionDenied);
      expect(refused.rawMessage).toMatch(/revoked/);
    });

    it("must say hello first", async () => {
      const token = await ts.server.issuer.mintEnrollment(600);
      const identity = await FakeAgent.enroll(ts.agentClient(), token);
      const rude = FakeAgent.connect(ts.agentClient(), identity, { hello: false });
      rude.send({ case: "heartbeat", value: {} });
      const ended = ConnectError.from(await rude.ended);
      expect(ended.code).toBe(Code.InvalidArgument);
      expect(ended.rawMessage).toMatch(/first message must be hello/);
    });

    it("cannot enroll without a valid enrollment token", async () => {
      await expectCode(FakeAgent.enroll(ts.agentClient(), ""), Code.InvalidArgument, /enrollment_token is required/);
      await expectCode(FakeAgent.enroll(ts.agentClient(), "not.a.jwt"), Code.Unauthenticated, /enrollment token/);
      const techToken = await ts.server.issuer.mintTechnician("alice", "admin", 60);
      await expectCode(FakeAgent.enroll(ts.agentClient(), techToken), Code.Unauthenticated, /claim "aud"/);
    });

    it("cannot enroll without a hostname", async () => {
      const token = await ts.server.issuer.mintEnrollment(600);
      await expectCode(
        FakeAgent.enroll(ts.agentClient(), token, " "),
        Code.InvalidArgument,
        /info.hostname is required/,
      );
      await expectCode(
        FakeAgent.enroll(ts.agentClient(), token, "h".repeat(254)),
        Code.InvalidArgument,
        /info.hostname is 254 characters; at most 253 are allowed/,
      );
    });

    it("may say hello only once", async () => {
      const agent = await onlineAgent();
      agent.send({ case: "hello", value: { agentId: agent.agentId } });
      const ended = ConnectError.from(await agent.ended);
      expect([ended.code, ended.rawMessage]).toEqual([Code.InvalidArgument, "hello sent twice on one stream"]);
    });

    it("hears heartbeat_ack for every heartbeat when its hello asked for them, and none otherwise", async () => {
      const identity = await FakeAgent.enroll(ts.agentClient(), await ts.server.issuer.mintEnrollment(600));
      const asking = FakeAgent.connect(ts.agentClient(), identity, { hello: false });
      agents.push(asking);
      asking.send({
        case: "hello",
        value: { agentId: identity.agentId, info: { hostname: "h" }, heartbeatAcks: true },
      });
      expect(await asking.waitFor("helloAck")).toMatchObject({ heartbeatAcks: true });
      asking.send({ case: "heartbeat", value: {} });
      asking.send({ case: "heartbeat", value: {} });
      await until(
        () => asking.received.filter((m) => m.kind.case === "heartbeatAck").length === 2,
        "an ack for each heartbeat",
      );

      const quiet = await onlineAgent();
      expect(await quiet.waitFor("helloAck")).toMatchObject({ heartbeatAcks: false });
      quiet.send({ case: "heartbeat", value: {} });
      // Answered in order on the same stream, so once this is answered the heartbeat was handled.
      quiet.send({
        case: "frame",
        value: {
          sessionId: "00000000-0000-4000-8000-000000000000",
          channelId: 1,
          sequence: 1n,
          payload: { case: "eof", value: {} },
        },
      });
      await quiet.waitFor("frame");
      expect(quiet.received.some((m) => m.kind.case === "heartbeatAck")).toBe(false);
    });

    it("pages through agents in id order", async () => {
      const token = await ts.server.issuer.mintEnrollment(600);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await FakeAgent.enroll(ts.agentClient(), token, `h${i}`)).agentId);
      const seen: string[] = [];
      let pageToken = "";
      do {
        const page = await alice.listAgents({ pageSize: 2, pageToken });
        expect(page.agents.length).toBeLessThanOrEqual(2);
        seen.push(...page.agents.map((a) => a.id));
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
      expect(seen).toEqual([...ids].sort());
      await expectCode(alice.listAgents({ pageToken: "garbage" }), Code.InvalidArgument, /page_token/);
    });
  });

  describe("tunnel sessions", () => {
    it("open once the agent is ready, report status, and close with a reason", async () => {
      const agent = await onlineAgent();
      const { session } = await alice.openTunnel({ agentId: agent.agentId });
      expect(session?.state).toBe(SessionState.ACTIVE);
      expect(session?.technician).toBe("alice");
      expect(session?.readyTime).toBeDefined();
      const open = await agent.waitFor("openTunnel");
      expect(open).toMatchObject({ sessionId: session!.id, technician: "alice" });
      expect((await alice.listAgents({})).agents[0]?.activeSessionId).toBe(session!.id);

      const status = await alice.getTunnelStatus({ sessionId: session!.id });
      expect(status.session?.state).toBe(SessionState.ACTIVE);

      const closed = await alice.closeTunnel({ sessionId: session!.id });
      expect(closed.session).toMatchObject({
        state: SessionState.CLOSED,
        closeReason: CloseReason.CLOSED_BY_TECHNICIAN,
      });
      expect(await agent.waitFor("closeTunnel")).toMatchObject({
        sessionId: session!.id,
        reason: CloseReason.CLOSED_BY_TECHNICIAN,
      });
      // Closing again is harmless and keeps the first reason.
      expect((await alice.closeTunnel({ sessionId: session!.id })).session?.closeReason).toBe(
        CloseReason.CLOSED_BY_TECHNICIAN,
      );
      expect(await auditActions(session!.id)).toEqual(["tunnel.open:ok", "tunnel.close:ok"]);
    });

    it("let exactly one of two racing opens of one technician win, the loser told which session they hold; another technician's open succeeds beside it", async () => {
      const agent = await onlineAgent();
      const bob = await ts.technician("bob");
      const results = await Promise.allSettled([
        alice.openTunnel({ agentId: agent.agentId }),
        alice.openTunnel({ agentId: agent.agentId }),
        bob.openTunnel({ agentId: agent.agentId }),
      ]);
      const aliceResults = results.slice(0, 2);
      const won = aliceResults.filter((r) => r.status === "fulfilled");
      const lost = aliceResults
        .filter((r): r is PromiseRejectedResult => r.status === "rejected")
        .map((r) => ConnectError.from(r.reason));
      expect(won).toHaveLength(1);
      expect(lost.map((e) => e.code)).toEqual([Code.AlreadyExists]);
      const winner = (won[0] as PromiseFulfilledResult<{ session?: { id: string } }>).value.session!.id;
      expect(lost[0]?.rawMessage).toContain(winner);
      expect(results[2]?.status).toBe("fulfilled");
    });

    it("belong to the technician who opened them; admins may act on any", async () => {
      const agent = await onlineAgent();
      const { session } = await alice.openTunnel({ agentId: agent.agentId });
      const bob = await ts.technician("bob");
      await expectCode(bob.getTunnelStatus({ sessionId: session!.id }), Code.PermissionDenied, /another technician/);
      await expectCode(bob.closeTunnel({ sessionId: session!.id }), Code.PermissionDenied);
      expect(await auditActions(session!.id)).toContain("tunnel.close:refused");
      const admin = await ts.technician("root", "admin");
      expect((await admin.closeTunnel({ sessionId: session!.id })).session?.state).toBe(SessionState.CLOSED);
    });

    it("refuse bad ids, unknown agents and sessions, and offline agents with clear errors", async () => {
      await expectCode(alice.openTunnel({ agentId: "" }), Code.InvalidArgument, /agent_id is required/);
      await expectCode(alice.openTunnel({ agentId: "web-01" }), Code.InvalidArgument, /not a UUID/);
      await expectCode(
        alice.getTunnelStatus({ sessionId: "nope" }),
        Code.InvalidArgument,
        /session_id "nope" is not a UUID/,
      );
      await expectCode(alice.closeTunnel({ sessionId: "" }), Code.InvalidArgument, /session_id is required/);
      await expectCode(alice.openTunnel({ agentId: randomUUID() }), Code.NotFound, /not enrolled/);
      await expectCode(alice.getTunnelStatus({ sessionId: randomUUID() }), Code.NotFound, /not found/);
      const token = await ts.server.issuer.mintEnrollment(600);
      const { agentId } = await FakeAgent.enroll(ts.agentClient(), token, "sleepy");
      await expectCode(alice.openTunnel({ agentId }), Code.FailedPrecondition, /\(sleepy\) is never seen online/);
    });

    it("tell an agent asked while the session was being recorded to close it when the database refuses it, leaving no row", async () => {
      const agent = await onlineAgent();
      // Revoked behind the server's back once its connect reached the database (the silent agent
      // is not looked up again), so its stream is still up when the open asks it.
      const handle = openDatabase(parseDatabaseUrl(db.url));
      try {
        const lastSeen = () =>
          handle.selectFrom("agents").select("last_seen_at").where("id", "=", agent.agentId).executeTakeFirstOrThrow();
        await until(async () => (await lastSeen()).last_seen_at !== null, "the connect's last-seen flush");
        await handle.updateTable("agents").set({ revoked_at: Date.now() }).where("id", "=", agent.agentId).execute();
        await expectCode(alice.openTunnel({ agentId: agent.agentId }), Code.FailedPrecondition, /has been revoked/);
        const { sessionId } = await agent.waitFor("openTunnel");
        expect(await agent.waitFor("closeTunnel")).toMatchObject({ sessionId });
        expect(
          await handle.selectFrom("tunnel_sessions").select("id").where("agent_id", "=", agent.agentId).execute(),
        ).toEqual([]);
      } finally {
        await handle.destroy();
      }
    });

    it("fail with the agent's own error, and the session is closed as agent_error", async () => {
      const agent = await onlineAgent();
      agent.onOpen = { error: { code: Code.ResourceExhausted, message: "a tunnel is already open" } };
      const err = await expectCode(
        alice.openTunnel({ agentId: agent.agentId }),
        Code.ResourceExhausted,
        /a tunnel is already open/,
      );
      const sessionId = (await agent.waitFor("openTunnel")).sessionId;
      expect(err.rawMessage).toContain(agent.agentId);
      expect((await alice.getTunnelStatus({ sessionId })).session).toMatchObject({
        state: SessionState.CLOSED,
        closeReason: CloseReason.AGENT_ERROR,
      });
      // The agent is free again.
      agent.onOpen = "ready";
      expect((await alice.openTunnel({ agentId: agent.agentId })).session?.state).toBe(SessionState.ACTIVE);
    });

    it("time out when the agent does not answer, closing the session as timeout", async () => {
      const agent = await onlineAgent();
      agent.onOpen = "silent";
      await expectCode(
        alice.openTunnel({ agentId: agent.agentId }),
        Code.DeadlineExceeded,
        /did not answer within 1000 ms/,
      );
      const { sessionId } = await agent.waitFor("openTunnel");
      expect(await agent.waitFor("closeTunnel")).toMatchObject({ sessionId, reason: CloseReason.TIMEOUT });
      expect((await alice.getTunnelStatus({ sessionId })).session?.closeReason).toBe(CloseReason.TIMEOUT);
    });

    it("answer a second open of the same technician that waited on a timed-out open with Aborted, not a hang", async () => {
      const agent = await onlineAgent();
      agent.onOpen = "silent";
      const first = expectCode(alice.openTunnel({ agentId: agent.agentId }), Code.DeadlineExceeded, /did not answer/);
      await agent.waitFor("openTunnel");
      const second = expectCode(
        alice.openTunnel({ agentId: agent.agentId, ephemeral: true }),
        Code.Aborted,
        /did not open/,
      );
      await first;
      await second;
    });

    it("close at once when the agent's stream drops", async () => {
      const agent = await onlineAgent();
      const { session } = await alice.openTunnel({ agentId: agent.agentId });
      agent.kill();
      await until(
        async () => (await alice.getTunnelStatus({ sessionId: session!.id })).session?.state === SessionState.CLOSED,
        "session closed",
      );
      expect((await alice.getTunnelStatus({ sessionId: session!.id })).session?.closeReason).toBe(
        CloseReason.AGENT_DISCONNECTED,
      );
    });

    it("left open by a server that died are closed when a server starts", async () => {
      const agent = await onlineAgent();
      const { session } = await alice.openTunnel({ agentId: agent.agentId });
      // Simulate a crash: the row stays live because nothing closed it.
      const handle = openDatabase(parseDatabaseUrl(db.url));
      await ts.stop();
      await handle
        .updateTable("tunnel_sessions")
        .set({ state: "active", close_reason: null, closed_at: null })
        .where("id", "=", session!.id)
        .execute();
      await handle.destroy();
      await ts.restart();
      alice = await ts.technician("alice");
      const after = (await alice.getTunnelStatus({ sessionId: session!.id })).session;
      expect(after).toMatchObject({ state: SessionState.CLOSED, closeReason: CloseReason.SERVER_RESTART });
    });
  });
});
