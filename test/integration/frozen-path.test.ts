import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgentRig, type AgentRig } from "../../testkit/agent-rig.js";
import { AGENT_MAIN, ManagedProcess } from "../../testkit/managed-process.js";
import { TcpProxy } from "../support/tcp-proxy.js";

/**
 * A path that goes dark without FIN or RST (a frozen peer, a dead middlebox): the server drops the
 * agent after --offline-after, and the agent, hearing no heartbeat_ack for that long, drops the stream
 * and reconnects in its turn, instead of waiting out HTTP/2 keepalive (30 s + 10 s).
 */
describe("an agent behind a path that freezes", () => {
  let rig: AgentRig;
  let proxy: TcpProxy;
  let agent: ManagedProcess | undefined;

  beforeAll(async () => {
    rig = await startAgentRig("sqlite");
    const url = new URL(rig.url);
    proxy = new TcpProxy({ host: url.hostname, port: Number(url.port) });
    await proxy.start();
  }, 60_000);
  afterAll(async () => {
    await agent?.stop();
    await proxy?.cut();
    await rig?.stop();
  });

  it("notices within the server's offline-after span, says why, and reconnects", async () => {
    await rig.enrollAgent("behind-proxy");
    const statePath = join(rig.dir, "behind-proxy", "state.json");
    const state = JSON.parse(readFileSync(statePath, "utf8")) as { server: string };
    writeFileSync(statePath, JSON.stringify({ ...state, server: `http://127.0.0.1:${proxy.port}` }), { mode: 0o600 });
    agent = new ManagedProcess(AGENT_MAIN, ["run", "--state", statePath]);
    await agent.waitForLog((e) => e.msg === "connecting -> heartbeat", "the agent to connect through the proxy");

    proxy.freeze();
    // The test server runs with 300 ms heartbeats and a 1.5 s offline-after; keepalive alone would take 40 s.
    const left = await agent.waitForLog(
      (e) => e.msg === "heartbeat -> backoff",
      "the agent to leave the frozen stream",
      10_000,
    );
    expect(JSON.stringify(left)).toMatch(/the server was silent for \d+ ms: the path is frozen/);
    // New connections through the proxy still work: the agent is back.
    const index = agent.logs.indexOf(left);
    await agent.waitForLog((e) => e.msg === "connecting -> heartbeat", "the agent to reconnect", 10_000, index);
  });
});
