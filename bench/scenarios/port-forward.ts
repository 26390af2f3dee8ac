import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { ChannelClient } from "../../client/channel-client.js";
import { ChannelType } from "../../gen/rmm/v1/frame_pb.js";
import { throughputOn } from "../baselines/baseline-client.js";
import { openEchoConnection, type EchoConnection } from "../baselines/open-echo-connection.js";
import { startBaseline } from "../baselines/spawn-baseline.js";
import { percentile, startTunnelRig } from "./tunnel-rig.js";

const CLI_MAIN = resolve("dist/cli/main.js");
const CHUNK_BYTES = 64 * 1024;
/** Connections opened untimed before the timed ones, so the first channel's JIT and pool set-up stay out of p50. */
const SETUP_WARM_UP = 50;
const ONE_BYTE = new Uint8Array([120]);

export interface PortForwardResult {
  /** One forwarded connection: local client -> rmm forward -> server -> agent -> echo target -> back. */
  forwardMBps: number;
  /** The same measurement against the echo target directly (raw TCP loopback). */
  rawTcpMBps: number;
  /** The same measurement on a tunnel echo channel of the same rig (no TCP at either end). */
  echoChannelMBps: number;
  /** Connect, one byte there and back, close: through the forward, and directly. */
  setupP50Ms: number;
  setupP99Ms: number;
  rawSetupP50Ms: number;
  rawSetupP99Ms: number;
  /** A tunnel echo channel opened, one byte there and back, closed: the channel machinery alone. */
  echoSetupP50Ms: number;
}

/**
 * `rmm forward` as a technician runs it (the CLI process), to a raw TCP echo
 * process standing for the service beside the agent; every figure beside the
 * same measurement on raw TCP loopback and on a tunnel echo channel in the same rig.
 */
export async function portForward(opts: {
  totalBytes: number;
  connections: number;
  serverNodeArgs: readonly string[];
}): Promise<PortForwardResult> {
  const target = await startBaseline("tcp");
  const rig = await startTunnelRig("sqlite", opts.serverNodeArgs);
  const home = mkdtempSync(join(tmpdir(), "rmm-bench-forward-"));
  let cli: ReturnType<typeof spawn> | undefined;
  try {
    const { session } = await rig.client.openTunnel({ agentId: rig.agentId });
    const sessionId = session!.id;
    cli = spawn(process.execPath, [CLI_MAIN, "forward", rig.agentId, `0:localhost:${target.port}`], {
      env: { ...process.env, XDG_CONFIG_HOME: home, RMM_SERVER: rig.url, RMM_TOKEN: rig.token },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const lines = createInterface({ input: cli.stdout! })[Symbol.asyncIterator]();
    const first = await lines.next();
    const port = Number(/^forwarding 127\.0\.0\.1:(\d+) /.exec(String(first.value))?.[1]);
    if (!port) throw new Error(`rmm forward did not say where it listens: ${String(first.value)}`);
    // The CLI prints a line per connection; reading them keeps its stdout from filling.
    void (async () => {
      for (let l = await lines.next(); !l.done; l = await lines.next());
    })();

    const measure = async (conn: EchoConnection) => {
      try {
        return (await throughputOn(conn, { totalBytes: opts.totalBytes, chunkBytes: CHUNK_BYTES })).mbPerSec;
      } finally {
        await conn.close();
      }
    };
    const rawTcpMBps = await measure(await openEchoConnection("tcp", target.port));
    const forwardMBps = await measure(await openEchoConnection("tcp", port));
    const echo = await ChannelClient.open(rig.client, { sessionId, type: ChannelType.ECHO });
    const echoChannelMBps = await measure({
      write: (bytes) => echo.write(bytes),
      received: echo.data()[Symbol.asyncIterator](),
      close: async () => echo.close(),
    });

    const forwardSetup = await setupTimes(port, opts.connections);
    const rawSetup = await setupTimes(target.port, opts.connections);
    const echoSetup = await timed(opts.connections, async () => {
      const channel = await ChannelClient.open(rig.client, { sessionId, type: ChannelType.ECHO });
      await channel.write(ONE_BYTE);
      await channel.data()[Symbol.asyncIterator]().next();
      channel.close();
      await channel.ended;
    });
    return {
      forwardMBps,
      rawTcpMBps,
      echoChannelMBps,
      setupP50Ms: percentile(forwardSetup, 50),
      setupP99Ms: percentile(forwardSetup, 99),
      rawSetupP50Ms: percentile(rawSetup, 50),
      rawSetupP99Ms: percentile(rawSetup, 99),
      echoSetupP50Ms: percentile(echoSetup, 50),
    };
  } finally {
    if (cli && cli.exitCode === null) {
      const exited = once(cli, "exit");
      cli.kill("SIGINT");
      await exited;
    }
    await rig.stop();
    await target.stop();
    rmSync(home, { recursive: true, force: true });
  }
}

/** Sequential connections: connect, one byte to the echo and back, close; milliseconds each, sorted. */
function setupTimes(port: number, count: number): Promise<number[]> {
  return timed(count, async () => {
    const socket = net.connect({ host: "127.0.0.1", port, noDelay: true });
    await once(socket, "connect");
    socket.write(ONE_BYTE);
    await once(socket, "data");
    const closed = once(socket, "close");
    socket.destroy();
    await closed;
  });
}

/** Runs `step` SETUP_WARM_UP times untimed, then `count` times timed; milliseconds each, sorted. */
async function timed(count: number, step: () => Promise<void>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < SETUP_WARM_UP + count; i++) {
    const t0 = performance.now();
    await step();
    if (i >= SETUP_WARM_UP) times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b);
}
