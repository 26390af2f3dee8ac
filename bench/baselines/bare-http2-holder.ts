/**
 * The floor under an idle agent's memory: a bare Node process that holds one
 * HTTP/2 connection with one open gRPC stream on it (what an idle agent holds:
 * its Connect stream), and nothing else. No gRPC library, no protobuf, no logger.
 *
 *   node dist/bench/baselines/bare-http2-holder.js --port PORT
 *
 * PORT is a bare connect-node server's (its OpenChannel echo keeps the stream
 * open). Writes `{"held":true}` on stdout once the server has the stream;
 * SIGTERM closes the connection and the process exits.
 */
import * as http2 from "node:http2";
import { parseArgs } from "node:util";
import { BASELINE_HOST } from "./baseline-kind.js";

const { values } = parseArgs({ options: { port: { type: "string" } } });
const port = Number(values.port);
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write(`bare-http2-holder: --port must be a port number, got "${values.port}"\n`);
  process.exit(1);
}
const session = http2.connect(`http://${BASELINE_HOST}:${port}`);
session.on("error", (err) => {
  process.stderr.write(`bare-http2-holder: ${err.message}\n`);
  process.exit(1);
});
const stream = session.request({
  ":method": "POST",
  ":path": "/rmm.v1.TunnelService/OpenChannel",
  "content-type": "application/grpc",
  te: "trailers",
});
// The echo answers nothing until it is sent data; a PING acknowledged after the
// request's HEADERS means the server has the stream open (frames arrive in order).
stream.once("ready", () =>
  session.ping((err) => {
    if (err) throw err;
    process.stdout.write(JSON.stringify({ held: true }) + "\n");
  }),
);
stream.on("error", (err) => {
  process.stderr.write(`bare-http2-holder: stream: ${err.message}\n`);
  process.exit(1);
});
process.once("SIGTERM", () => {
  stream.close();
  session.close();
});
