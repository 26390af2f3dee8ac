import type { Dialect } from "../../test/support/test-databases.js";
import { percentile, startTunnelRig } from "./tunnel-rig.js";

/** Cycles not timed, so connection set-up and JIT warm-up stay out of the figures. */
const WARM_UP_CYCLES = 20;

/** Scenario 3: OpenTunnel -> ready -> CloseTunnel, one after another. */
export async function tunnelCycles(store: Dialect, cycles: number, serverNodeArgs: readonly string[]): Promise<{ openP50Ms: number; openP99Ms: number; cyclesPerSecond: number }> {
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
