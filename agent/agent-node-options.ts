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
 * Not set: a 16x tier-up budget (`--interrupt-budget=1048576`, from inside
 * the agent, since node refuses it in NODE_OPTIONS) kept start-only code as
 * bytecode and took idle RSS from about 59 to 55 MiB, but the tunnel's echo
 * round trip p50 rose by a third (four alternating bench runs each: 533-564
 * us without it, 716-728 us with it), the relay's hot path staying
 * unoptimized for longer.
 *
 * Measured and not set: `--lite-mode` (jitless here: no WebAssembly either)
 * takes idle RSS to 51 MiB and the transfer peaks to about +12 MiB, but the
 * agent spends about 30% more CPU per byte transferred; `--jitless` 53 MiB,
 * likewise; `--no-opt`, `--no-sparkplug`, `--max-lazy`, `--single-threaded`,
 * `--single-threaded-gc`, `--v8-pool-size=0`, `--no-concurrent-recompilation`,
 * `--optimize-for-size`, UV_THREADPOOL_SIZE=1 and the glibc MALLOC_* tunables
 * moved idle RSS by 1.5 MiB or less.
 */
export const AGENT_NODE_OPTIONS: readonly string[] = ["--max-semi-space-size=1"];
