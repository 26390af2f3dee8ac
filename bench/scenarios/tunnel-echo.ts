import { ChannelClient } from "../../client/channel-client.js";
import { ChannelType } from "../../gen/rmm/v1/frame_pb.js";
import { percentile, startTunnelRig } from "./tunnel-rig.js";

import { ECHO_WARM_UP_ROUND_TRIPS, THROUGHPUT_WARM_UP_BYTES } from "../baselines/baseline-client.js";

const SMALL_FRAME_BYTES = 64;
const CHUNK_BYTES = 64 * 1024;

/** Scenarios 4 and 5: echo round trip (technician -> server -> agent -> server -> technician) and throughput. */
export async function tunnelEcho(opts: { roundTrips: number; totalBytes: number; serverNodeArgs: readonly string[] }): Promise<{ p50Us: number; p99Us: number; mbPerSec: number }> {
  const rig = await startTunnelRig("sqlite", opts.serverNodeArgs);
  try {
    const { session } = await rig.client.openTunnel({ agentId: rig.agentId });
    const sessionId = session!.id;

    const rtt = await ChannelClient.open(rig.client, { sessionId, type: ChannelType.ECHO });
    const replies = rtt.data()[Symbol.asyncIterator]();
    const small = new Uint8Array(SMALL_FRAME_BYTES);
    const samples: number[] = [];
    for (let i = 0; i < ECHO_WARM_UP_ROUND_TRIPS + opts.roundTrips; i++) {
      const t0 = process.hrtime.bigint();
      await rtt.write(small);
      for (let got = 0; got < small.length; ) got += (await replies.next()).value!.length;
      if (i >= ECHO_WARM_UP_ROUND_TRIPS) samples.push(Number(process.hrtime.bigint() - t0) / 1_000);
    }
    rtt.close();
    samples.sort((a, b) => a - b);

    const bulk = await ChannelClient.open(rig.client, { sessionId, type: ChannelType.ECHO });
    const chunk = new Uint8Array(CHUNK_BYTES).fill(7);
    const received = bulk.data()[Symbol.asyncIterator]();
    const echoBulk = async (totalBytes: number) => {
      const reading = (async () => {
        for (let got = 0; got < totalBytes; ) {
          const next = await received.next();
          if (next.done) throw new Error(`echo channel ended after ${got} of ${totalBytes} bytes`);
          got += next.value.length;
        }
      })();
      for (let sent = 0; sent < totalBytes; sent += chunk.length) await bulk.write(chunk);
      await reading;
    };
    // Untimed first, on the same channel, as the bare baselines are.
    await echoBulk(THROUGHPUT_WARM_UP_BYTES);
    const t0 = performance.now();
    await echoBulk(opts.totalBytes);
    const seconds = (performance.now() - t0) / 1000;
    bulk.close();
    await rig.client.closeTunnel({ sessionId });
    return { p50Us: percentile(samples, 50), p99Us: percentile(samples, 99), mbPerSec: opts.totalBytes / seconds / 1e6 };
  } finally {
    await rig.stop();
  }
}
