import { Agent, DEFAULT_CHANNELS } from "../../agent/agent.js";
import { Backoff } from "../../agent/backoff.js";
import { createGrpcTransport } from "../../agent/grpc-transport.js";
import { createLogger } from "../../common/logger.js";
import type { TestServer } from "./test-server.js";
import { until } from "./until.js";

/** The real agent code in the test's own process (so a test can read its mode), on a real gRPC stream to the server. */
export interface InProcessAgent {
  agentId: string;
  agent: Agent;
  stop(): Promise<void>;
}

export async function startInProcessAgent(ts: TestServer, hostname = "in-process"): Promise<InProcessAgent> {
  const transport = createGrpcTransport(ts.url);
  const { agentId, credential } = await ts.agentClient().enroll({
    enrollmentToken: await ts.server.issuer.mintEnrollment(600),
    info: { hostname, os: "linux x64", agentVersion: "test", capabilities: [...DEFAULT_CHANNELS.keys()] },
  });
  const agent = new Agent({
    agentId,
    credential,
    info: { hostname, os: "linux x64", agentVersion: "test" },
    transport,
    log: createLogger("agent", process.env.RMM_LOG_LEVEL ?? "silent"),
    backoff: new Backoff({ initialMs: 10, maxMs: 100, stableAfterMs: 1_000 }),
  });
  const stopper = new AbortController();
  const running = agent.run(stopper.signal);
  await until(() => agent.mode.type === "heartbeat", "the agent to reach heartbeat mode");
  return {
    agentId,
    agent,
    async stop() {
      stopper.abort();
      await running;
      transport.close();
    },
  };
}
