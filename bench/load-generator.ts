/**
 * A benchmark load-generator process: runs many simulated agents, each the
 * real Agent class on its own HTTP/2 connection, and reports on stderr (JSON
 * lines, like every process here) how many are in heartbeat mode, so a harness can time "all online".
 *
 *   node dist/bench/load-generator.js --server URL --identities FILE --from I --count N [--local-address A]
 *
 * With --local-address, every connection leaves from A (see bound-agent-transport.ts);
 * without, the agents use the real agent's grpc-js transport.
 * FILE holds one `{"agentId","credential"}` JSON object per line.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { Code, ConnectError } from "@connectrpc/connect";
import { Agent } from "../agent/agent.js";
import { Backoff } from "../agent/backoff.js";
import { createGrpcTransport } from "../agent/grpc-transport.js";
import { createLogger } from "../common/logger.js";
import { boundAgentTransport } from "./bound-agent-transport.js";

/** How often the count of online agents is reported. */
const REPORT_INTERVAL_MS = 250;
/** Agents started per tick, so the generator's own start-up does not look like a storm of its making. */
const START_BATCH = 200;

const { values } = parseArgs({
  options: {
    server: { type: "string" },
    identities: { type: "string" },
    from: { type: "string", default: "0" },
    count: { type: "string" },
    "local-address": { type: "string" },
  },
});
if (!values.server || !values.identities || !values.count)
  throw new Error("usage: load-generator --server URL --identities FILE --from I --count N [--local-address A]");
const server = values.server;
const localAddress = values["local-address"];
const from = Number(values.from);
const identities = readFileSync(values.identities, "utf8")
  .split("\n")
  .filter(Boolean)
  .slice(from, from + Number(values.count))
  .map((line) => JSON.parse(line) as { agentId: string; credential: string });

const log = createLogger("load-generator", "silent");
let stopping = false;
/**
 * One signal per agent: each connect attempt listens on its agent's signal, and
 * Node's EventTarget scans every listener of a signal on each add, so thousands
 * of agents on one shared signal cost the generator seconds of CPU in a storm.
 */
const stops: AbortController[] = [];
const agents: Agent[] = [];
const running: Array<Promise<void>> = [];
const transports: Array<{ close(): void }> = [];
process.once("SIGTERM", () => {
  stopping = true;
  for (const s of stops) s.abort();
});
// connect-node 2.1 can destroy an HTTP/2 session on a PING timeout after it took its own error listener off
// (a PING answered late under load): the session's "error" then has no listener and would end this process,
// and every agent in it, though only that one connection was lost and its agent reconnects by itself.
process.on("uncaughtException", (err) => {
  if (err instanceof ConnectError && err.code === Code.Unavailable && err.rawMessage === "PING timed out") return;
  process.stderr.write(JSON.stringify({ msg: "load generator failed", err: String(err.stack ?? err) }) + "\n");
  process.exit(1);
});

const report = setInterval(() => {
  let online = 0;
  // Why agents are waiting to reconnect, the commonest first: what a harness shows while a fleet will not come up.
  const waiting = new Map<string, number>();
  for (const a of agents) {
    const mode = a.mode;
    if (mode.type === "heartbeat" || mode.type === "tunnel") online++;
    else if (mode.type === "backoff") waiting.set(mode.reason, (waiting.get(mode.reason) ?? 0) + 1);
  }
  const backoff = Object.fromEntries([...waiting].sort((a, b) => b[1] - a[1]).slice(0, 3));
  process.stderr.write(JSON.stringify({ msg: "online", online, total: identities.length, backoff }) + "\n");
}, REPORT_INTERVAL_MS);

for (let i = 0; i < identities.length && !stopping; i += START_BATCH) {
  for (const id of identities.slice(i, i + START_BATCH)) {
    const transport = localAddress ? boundAgentTransport(server, localAddress) : createGrpcTransport(server);
    transports.push(transport);
    const agent = new Agent({
      agentId: id.agentId,
      credential: id.credential,
      info: { hostname: `sim-${id.agentId.slice(0, 8)}`, os: "linux x64", agentVersion: "bench" },
      transport,
      log,
      backoff: new Backoff(),
    });
    agents.push(agent);
    const stop = new AbortController();
    stops.push(stop);
    running.push(agent.run(stop.signal));
  }
  await new Promise((r) => setImmediate(r));
}

await Promise.all(running);
clearInterval(report);
for (const t of transports) t.close();
