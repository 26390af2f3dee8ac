import { ChannelClient } from "../../client/channel-client.js";
import { FORWARD_WINDOW_BYTES } from "../../common/forward-target.js";
import { ChannelType } from "../../gen/rmm/v1/frame_pb.js";
import { echoRttOn, throughputOn } from "../baselines/baseline-client.js";
import type { EchoConnection } from "../baselines/open-echo-connection.js";
import { startTunnelRig } from "./tunnel-rig.js";

const SMALL_FRAME_BYTES = 64;
const CHUNK_BYTES = 64 * 1024;

/** An echo channel seen as a baseline echo stream, so both are measured by the same code. */
function asEchoConnection(channel: ChannelClient): EchoConnection {
  return {
    write: (bytes) => channel.write(bytes),
    received: channel.data()[Symbol.asyncIterator](),
    close: async () => channel.close(),
  };
}

/** Scenarios 4 and 5: echo round trip (technician -> server -> agent -> server -> technician) and throughput. */
export async function tunnelEcho(opts: {
  roundTrips: number;
  totalBytes: number;
  serverNodeArgs: readonly string[];
  /** More `rmm-server serve` flags. Defaults to none. */
  serverExtra?: readonly string[];
}): Promise<{ p50Us: number; p99Us: number; mbPerSec: number }> {
  const rig = await startTunnelRig("sqlite", opts.serverNodeArgs, opts.serverExtra);
  try {
    const { session } = await rig.client.openTunnel({ agentId: rig.agentId });
    const sessionId = session!.id;
    // The bulk channel keeps 1 MiB in flight each way, as the bare baselines' HTTP/2 stream windows do.
    const openEcho = async (windowBytes?: number) =>
      asEchoConnection(
        await ChannelClient.open(rig.client, {
          sessionId,
          type: ChannelType.ECHO,
          ...(windowBytes && { windowBytes }),
        }),
      );

    const rttChannel = await openEcho();
    const { p50Us, p99Us } = await echoRttOn(rttChannel, { samples: opts.roundTrips, payloadBytes: SMALL_FRAME_BYTES });
    await rttChannel.close();

    const bulkChannel = await openEcho(FORWARD_WINDOW_BYTES);
    const { mbPerSec } = await throughputOn(bulkChannel, { totalBytes: opts.totalBytes, chunkBytes: CHUNK_BYTES });
    await bulkChannel.close();
    await rig.client.closeTunnel({ sessionId });
    return { p50Us, p99Us, mbPerSec };
  } finally {
    await rig.stop();
  }
}
