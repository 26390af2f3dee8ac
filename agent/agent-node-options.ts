/**
 * The V8 flags the agent's service runs with (the unit's `NODE_OPTIONS`,
 * which the packaged single executable honours as node does).
 *
 * `--max-semi-space-size=1` (MiB; V8's default grows to 16): the young
 * generation is where a transfer's 64 KiB messages and read buffers live and
 * die, and a smaller one is collected sooner, so their memory is given back
 * sooner. Measured with `npm run bench -- --only endpoint` and a 256 MiB
 * upload and download on this machine: idle RSS 68.9 -> 64.3 MiB, peak above
 * idle during the upload +38.6 -> +17.7 MiB, download +46.6 -> +38.1 MiB,
 * throughput within run-to-run noise. `--max-old-space-size` (32, 16) and
 * `--max-semi-space-size=2` measured no better, so they are not set.
 *
 * The tier-up budget is set from inside (agent/tier-up-budget.ts): node
 * refuses `--interrupt-budget` in NODE_OPTIONS.
 *
 * Measured and not set: `--lite-mode` (jitless here: no WebAssembly either)
 * takes idle RSS to 51 MiB and the transfer peaks to about +12 MiB, but the
 * agent spends about 30% more CPU per byte transferred; `--jitless` 53 MiB,
 * likewise; `--no-opt`, `--no-sparkplug`, `--max-lazy`, `--single-threaded`,
 * `--single-threaded-gc`, `--v8-pool-size=0`, `--no-concurrent-recompilation`,
 * `--optimize-for-size`, UV_THREADPOOL_SIZE=1 and the glibc MALLOC_* tunables
 * moved idle RSS by 1.5 MiB or less beside the tier-up budget.
 */
export const AGENT_NODE_OPTIONS: readonly string[] = ["--max-semi-space-size=1"];
