import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { AsyncQueue } from "../common/async-queue.js";
import { createLogger } from "../common/logger.js";
import { ConnectResponseSchema, type ConnectRequest, type ConnectResponse } from "../gen/rmm/v1/agent_service_pb.js";
import { Agent } from "./agent.js";
import { Backoff } from "./backoff.js";
import { until } from "../test/support/until.js";
import type { AgentStream, AgentTransport } from "./transport.js";

type RequestCase = NonNullable<ConnectRequest["kind"]["case"]>;
type RequestValue<K extends RequestCase> = Extract<ConnectRequest["kind"], { case: K }>["value"];
type ResponseKind = NonNullable<MessageInitShape<typeof ConnectResponseSchema>["kind"]>;

/** An in-memory server end: what the agent sent, and a queue to answer it with. */
class MemoryTransport implements AgentTransport {
  readonly streams: Array<{ sent: ConnectRequest[]; toAgent: AsyncQueue<ConnectResponse> }> = [];
  private wake: Array<() => void> = [];

  enroll(): never {
    throw new Error("not used");
  }
  close(): void {}

  connect(): AgentStream {
    const s = { sent: [] as ConnectRequest[], toAgent: new AsyncQueue<ConnectResponse>() };
    this.streams.push(s);
    this.notify();
    return {
      send: (m) => {
        s.sent.push(m);
        this.notify();
      },
      messages: s.toAgent,
      close: () => s.toAgent.end(),
    };
  }

  get current() {
    return this.streams.at(-1)!;
  }

  reply(kind: ResponseKind): void {
    this.current.toAgent.push(create(ConnectResponseSchema, { kind }));
  }

  async sent<K extends RequestCase>(kind: K, count = 1): Promise<Array<RequestValue<K>>> {
    for (;;) {
      const found = this.current.sent.filter((m) => m.kind.case === kind).map((m) => m.kind.value as RequestValue<K>);
      if (found.length >= count) return found;
      await new Promise<void>((r) => this.wake.push(r));
    }
  }

  async streamCount(n: number): Promise<void> {
    while (this.streams.length < n) await new Promise<void>((r) => this.wake.push(r));
  }

  private notify() {
    for (const w of this.wake.splice(0)) w();
  }
}

const helloAck: ResponseKind = { case: "helloAck", value: { heartbeatIntervalMs: 60_000 } };

describe("Agent", () => {
  let stop: AbortController;
  let running: Promise<void> | undefined;
  afterEach(async () => {
    stop.abort();
    await running;
  });

  function start(transport: MemoryTransport): Agent {
    stop = new AbortController();
    const agent = new Agent({
      agentId: "a1",
      credential: "a1.secret",
      info: { hostname: "h", os: "linux x64", agentVersion: "test" },
      transport,
      log: createLogger("agent-test", "silent"),
      backoff: new Backoff({ initialMs: 1, maxMs: 5, stableAfterMs: 10 }),
    });
    running = agent.run(stop.signal);
    return agent;
  }

  it("says hello first, then serves several tunnels at once, each closed on its own", async () => {
    const t = new MemoryTransport();
    const agent = start(t);
    expect((await t.sent("hello"))[0]).toMatchObject({ agentId: "a1", info: { hostname: "h" } });
    t.reply(helloAck);
    t.reply({ case: "openTunnel", value: { sessionId: "s1", technician: "alice" } });
    t.reply({ case: "openTunnel", value: { sessionId: "s2", technician: "bob" } });
    expect(await t.sent("tunnelReady", 2)).toMatchObject([{ sessionId: "s1" }, { sessionId: "s2" }]);
    expect(agent.mode).toEqual({ type: "tunnel", sessions: ["s1", "s2"] });
    t.reply({ case: "closeTunnel", value: { sessionId: "s1" } });
    await until(() => agent.mode.type === "tunnel" && agent.mode.sessions.length === 1, "s1 closed");
    expect(agent.mode).toEqual({ type: "tunnel", sessions: ["s2"] });
    t.reply({ case: "closeTunnel", value: { sessionId: "s2" } });
    await until(() => agent.mode.type === "heartbeat", "back in heartbeat mode");
  });

  it("reports the sessions it serves in every heartbeat", async () => {
    const t = new MemoryTransport();
    start(t);
    t.reply({ case: "helloAck", value: { heartbeatIntervalMs: 20 } });
    t.reply({ case: "openTunnel", value: { sessionId: "s1", technician: "alice" } });
    await t.sent("tunnelReady");
    await until(async () => {
      const beats = await t.sent("heartbeat");
      return beats.some((b) => b.sessions?.sessionIds.join() === "s1");
    }, "a heartbeat listing s1");
  });

  it("answers frames for a session it does not hold with a close for that channel", async () => {
    const t = new MemoryTransport();
    start(t);
    t.reply(helloAck);
    t.reply({
      case: "frame",
      value: {
        sessionId: "nope",
        channelId: 3,
        sequence: 1n,
        payload: { case: "data", value: { data: new Uint8Array(1) } },
      },
    });
    const [frame] = await t.sent("frame");
    expect(frame).toMatchObject({
      sessionId: "nope",
      channelId: 3,
      payload: { case: "close", value: { code: Code.NotFound } },
    });
  });

  it("reconnects on a new stream after the old one fails, leaving tunnel mode", async () => {
    const t = new MemoryTransport();
    const agent = start(t);
    t.reply(helloAck);
    t.reply({ case: "openTunnel", value: { sessionId: "s1", technician: "alice" } });
    await t.sent("tunnelReady");
    t.current.toAgent.end(new ConnectError("connection reset", Code.Unavailable));
    await t.streamCount(2);
    expect(await t.sent("hello")).toHaveLength(1);
    expect(["connecting", "heartbeat"]).toContain(agent.mode.type);
  });

  it("runs job steps beside a tunnel session without leaving tunnel mode; refuses a duplicate, reports a missing program, cancels on request", async () => {
    const t = new MemoryTransport();
    const agent = start(t);
    expect((await t.sent("hello"))[0]).toMatchObject({ info: { jobSteps: true, labels: {} } });
    t.reply(helloAck);
    t.reply({ case: "openTunnel", value: { sessionId: "s1", technician: "alice" } });
    await t.sent("tunnelReady");
    t.reply({
      case: "jobStepStart",
      value: {
        stepId: "j/a1",
        jobId: "j",
        params: { argv: ["/bin/sh", "-c", "cat; echo $RMM_JOB_ID $RMM_AGENT_ID"] },
        stdin: Buffer.from("in\n"),
      },
    });
    const [ended] = await t.sent("jobStepEnded");
    expect(ended).toMatchObject({
      stepId: "j/a1",
      code: 0,
      exit: { exitCode: 0 },
      stdout: { totalBytes: 8n, truncated: false },
    });
    expect(Buffer.from(ended!.stdout!.head).toString()).toBe("in\nj a1\n");
    expect(agent.mode).toEqual({ type: "tunnel", sessions: ["s1"] });

    t.reply({ case: "jobStepStart", value: { stepId: "j2/a1", jobId: "j2", params: { argv: ["sleep", "30"] } } });
    await t.sent("jobStepStarted", 2);
    t.reply({ case: "jobStepStart", value: { stepId: "j2/a1", jobId: "j2", params: { argv: ["sleep", "30"] } } });
    const twice = await t.sent("jobStepEnded", 2);
    expect(twice[1]).toMatchObject({ stepId: "j2/a1", code: Code.AlreadyExists });
    t.reply({ case: "jobStepStart", value: { stepId: "j3/a1", jobId: "j3", params: { argv: ["/no/such/program"] } } });
    const missing = await t.sent("jobStepEnded", 3);
    expect(missing[2]).toMatchObject({ stepId: "j3/a1", code: Code.NotFound });
    t.reply({ case: "jobStepCancel", value: { stepId: "j2/a1", reason: "job cancelled" } });
    const cancelled = await t.sent("jobStepEnded", 4);
    expect(cancelled[3]).toMatchObject({ stepId: "j2/a1", exit: { cancelled: true, signal: "SIGTERM" } });
  });
});
