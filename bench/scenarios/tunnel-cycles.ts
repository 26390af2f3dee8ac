import type { Dialect } from "../../testkit/test-databases.js";
import { percentile, startTunnelRig } from "./tunnel-rig.js";

/**
 * Cycles not timed, so connection set-up and JIT warm-up stay out of the
 * figures. Measured here (MySQL, blocks of 200 cycles): p50 fell from 7.8
 * ms in the first block to 4.8 ms in the fifth and 3.9 ms in the tenth, as
 * V8 optimised the three processes' paths; the figures are meant to show a
 * server that has been running, not one that has just started.
 */
const WARM_UP_CYCLES = 1_000;

/** Scenario 3: OpenTunnel -> ready -> CloseTunnel, one after another. */
export async function tunnelCycles(
  store: Dialect,
  cycles: number,
  serverNodeArgs: readonly string[],
): Promise<{ openP50Ms: number; openP99Ms: number; cyclesPerSecond: number }> {
  const rig = await startTunnelRig(store, serverNodeArgs);
  try {
    const opens: number[] = [];
    let timedStart = 0;
    for (let i = 0; i < WARM_UP_CYCLES + cycles; i++) {
      if (i === WARM_UP_CYCLES) timedStart = performance.now();
      const t0 = performance.now();
      const { session } = await rig.client.openTunnel({ agentId: rig.agentId });
      if (i >= WARM_UP_CYCLES) opens.push(performance.now() - t0);
      await rig.client.closeTunnel({ sessionId: session!.id });
    }
    const seconds = (performance.now() - timedStart) / 1000;
    opens.sort((a, b) => a - b);
    return { openP50Ms: percentile(opens, 50), openP99Ms: percentile(opens, 99), cyclesPerSecond: cycles / seconds };
  } finally {
    await rig.stop();
  }
}
