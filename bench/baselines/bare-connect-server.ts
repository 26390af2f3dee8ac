/**
 * The bare connect-node baseline: TunnelService.OpenChannel as a trivial echo
 * and GetTunnelStatus as a unary call that does nothing (no auth, no
 * database, no tunnel) on cleartext HTTP/2, with the real
 * server's transport settings (compression off, 1 MiB stream window, 8 MiB
 * connection window, no Nagle), so a ratio against it isolates what
 * rmm-server adds.
 *
 *   node --expose-gc dist/bench/baselines/bare-connect-server.js --port 0
 *
 * Speaks the stdout protocol of `runBaselineProcess`.
 */
import * as http2 from "node:http2";
import type { AddressInfo, Socket } from "node:net";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { TunnelService } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { CONNECTION_WINDOW_BYTES, STREAM_WINDOW_BYTES } from "../../server/listener.js";
import { BASELINE_HOST } from "./baseline-kind.js";
import { runBaselineProcess, type StartedBaseline } from "./run-baseline-process.js";

/** Serves the bare echo on `port` (0: any free one) on 127.0.0.1. */
async function startBareConnectServer(port: number): Promise<StartedBaseline> {
  const routes = (router: ConnectRouter) =>
    router.service(TunnelService, {
      // A unary call that does nothing: the floor under every technician RPC (OpenTunnel and the rest).
      getTunnelStatus: async () => ({}),
      async *openChannel(requests) {
        for await (const req of requests) {
          if (req.kind.case === "data") yield { kind: { case: "data", value: { data: req.kind.value.data } } };
        }
      },
    });
  // As rmm-server: tunnel data is mostly compressed already, and gzip cut throughput to a third.
  const handler = connectNodeAdapter({ routes, acceptCompression: [] });
  const server = http2.createServer({ settings: { initialWindowSize: STREAM_WINDOW_BYTES } }, handler);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("connection", (socket: Socket) => socket.setNoDelay(true));
  server.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    session.once("remoteSettings", () => session.setLocalWindowSize(CONNECTION_WINDOW_BYTES));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, BASELINE_HOST, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    stop: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Idle streams never end by themselves; a baseline has nothing to drain.
      for (const session of sessions) session.destroy();
      await closed;
    },
  };
}

runBaselineProcess("bare-connect-server", startBareConnectServer);
