/**
 * The raw TCP baseline: a `node:net` loopback echo, the floor under any
 * HTTP/2 stack on this machine (no framing, no serialization).
 *
 *   node --expose-gc dist/bench/baselines/raw-tcp-pipe.js --port 0
 *
 * Speaks the stdout protocol of `runBaselineProcess`.
 */
import * as net from "node:net";
import type { AddressInfo } from "node:net";
import { BASELINE_HOST } from "./baseline-kind.js";
import { runBaselineProcess, type StartedBaseline } from "./run-baseline-process.js";

/** Serves the echo on `port` (0: any free one) on 127.0.0.1. */
async function startRawTcpPipe(port: number): Promise<StartedBaseline> {
  const sockets = new Set<net.Socket>();
  // No Nagle, as rmm-server: small round trips must not wait for an ACK.
  const server = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    // pipe() pauses reading while the write side is full, so memory stays flat.
    socket.pipe(socket);
    // A peer reset ends only its own echo.
    socket.on("error", () => socket.destroy());
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
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

runBaselineProcess("raw-tcp-pipe", startRawTcpPipe);
