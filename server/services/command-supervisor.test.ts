import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestDatabase, DIALECTS, type TestDatabase } from "../../testkit/test-databases.js";
import { ChannelType, TunnelFrameSchema } from "../../gen/rmm/v1/frame_pb.js";
import type { Technician } from "../auth/claims.js";
import { CommandPolicy } from "../policy/command-policy.js";
import {
  CommandAuditStore,
  migrateToLatest,
  openDatabase,
  parseDatabaseUrl,
  type CommandAuditRow,
  type Db,
  type SessionRow,
} from "../store/index.js";
import { AgentConnection } from "./agent-connection.js";
import type { ChannelRelay } from "./channel-relay.js";
import { CommandSupervisor } from "./command-supervisor.js";
import { RelayedChannel, type ChannelRequest } from "./relayed-channel.js";
import type { SessionService } from "./session-service.js";

const alice: Technician = { subject: "alice", role: "tech" };

/**
 * The supervisor against a real audit store, with the session lookup and the
 * relay stood in for: what matters here is the order of the audit row and
 * the open frame, which a real agent cannot observe.
 */
describe.each(DIALECTS)("command supervisor on %s", (dialect) => {
  let testDb: TestDatabase;
  let db: Db;
  let audit: CommandAuditStore;
  const sessionId = randomUUID();

  beforeEach(async () => {
    testDb = await createTestDatabase(dialect);
    db = openDatabase(parseDatabaseUrl(testDb.url));
    await migrateToLatest(db);
    audit = new CommandAuditStore(db);
  });
  afterEach(async () => {
    await db.destroy();
    await testDb.drop();
  });

  function supervisorWith(open: (request: ChannelRequest) => Promise<RelayedChannel>): CommandSupervisor {
    const sessions = {
      status: async () => ({ id: sessionId, agent_id: "agent-1" }) as SessionRow,
    } as unknown as SessionService;
    const relay = { open: (_tech: Technician, request: ChannelRequest) => open(request) } as unknown as ChannelRelay;
    return new CommandSupervisor(
      { relay, sessions, audit, log: pino({ level: "silent" }) },
      { policy: CommandPolicy.allowAll(), recordingsDir: undefined, terminalIdleTimeoutMs: 0 },
    );
  }
  const execRequest: ChannelRequest = {
    sessionId,
    type: ChannelType.EXEC,
    initialCredit: 0,
    params: {
      case: "exec",
      value: { $typeName: "rmm.v1.ExecParams", argv: ["uptime"], workingDirectory: "", environment: {} },
    },
  } as ChannelRequest;

  it("writes the audit row before the open frame goes to the agent, and records the channel id when the command ends", async () => {
    let rowsAtOpen: CommandAuditRow[] = [];
    const conn = new AgentConnection(
      "agent-1",
      { hostname: "h", os: "linux", agentVersion: "1", capabilities: [], labels: {} },
      0,
    );
    const channel = new RelayedChannel(
      { id: sessionId, agentId: "agent-1", technician: "alice", conn, lastActivityAt: 0 },
      5,
      65_536,
      () => undefined,
    );
    const supervised = await supervisorWith(async (request) => {
      rowsAtOpen = await audit.forSession(sessionId);
      channel.open(request, 65_536, 10_000);
      return channel;
    }).open(alice, execRequest);
    expect(rowsAtOpen).toHaveLength(1);
    expect(rowsAtOpen[0]).toMatchObject({ outcome: "running", channel_id: null, argv: JSON.stringify(["uptime"]) });

    channel.fromAgent(
      create(TunnelFrameSchema, {
        sessionId,
        channelId: 5,
        sequence: 1n,
        payload: { case: "close", value: { code: 0, message: "", exit: { exitCode: 0 } } },
      }),
    );
    for await (const _ of supervised.responses);
    await expect.poll(async () => (await audit.forSession(sessionId))[0]?.outcome).toBe("completed");
    expect((await audit.forSession(sessionId))[0]).toMatchObject({ channel_id: 5, exit_code: 0 });
  });

  it("marks the row failed, saying why, when the channel cannot be opened", async () => {
    const err = await supervisorWith(async () => {
      throw new ConnectError(
        `session ${sessionId} is closed, not active: open a tunnel first`,
        Code.FailedPrecondition,
      );
    })
      .open(alice, execRequest)
      .catch((e: unknown) => ConnectError.from(e));
    expect((err as ConnectError).code).toBe(Code.FailedPrecondition);
    expect(await audit.forSession(sessionId)).toMatchObject([
      { outcome: "failed", channel_id: null, message: expect.stringContaining("FailedPrecondition: session") },
    ]);
  });
});
