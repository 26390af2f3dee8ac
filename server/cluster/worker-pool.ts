import cluster, { type Worker } from "node:cluster";
import type { Logger } from "../../common/logger.js";

/** The environment variable that tells a worker which one it is (1-based). */
export const WORKER_INDEX_ENV = "RMM_NODE_WORKER";

/**
 * A crashed worker is started again after this long, doubling per crash in a
 * row to WORKER_RESTART_MAX_MS: a worker that cannot start (a bad flag, the
 * database refusing it) must not spin the CPU.
 */
const WORKER_RESTART_INITIAL_MS = 500;
const WORKER_RESTART_MAX_MS = 30_000;
/** A worker that lived this long before it died was healthy: the next restart is quick again. */
const HEALTHY_AFTER_MS = 60_000;

/** This process's place in a worker pool: the primary, a worker with its index, or neither (no --workers). */
export type PoolRole = { type: "single" } | { type: "primary" } | { type: "worker"; index: number };

export function poolRole(workers: number): PoolRole {
  if (workers <= 1) return { type: "single" };
  if (cluster.isPrimary) return { type: "primary" };
  return { type: "worker", index: Number(process.env[WORKER_INDEX_ENV]) };
}

/** A worker's node id: the pool's id with its index, so every worker is its own node and keeps its id across restarts. */
export function workerNodeId(baseNodeId: string, index: number): string {
  return `${baseNodeId}-${index}`;
}

/**
 * Several server nodes on one port on one host (Node 20 has no reusePort):
 * the primary forks `count` workers that each run a full node and listen on
 * the same address; the primary holds the listening socket and hands new
 * connections to the workers in turn. It serves nothing itself, restarts a
 * worker that dies, and passes SIGTERM/SIGINT on, exiting once all are gone.
 */
export function runWorkerPool(count: number, log: Logger): void {
  const started = new Map<number, number>();
  const delays = new Map<number, number>();
  let stopping = false;
  const fork = (index: number) => {
    const worker = cluster.fork({ [WORKER_INDEX_ENV]: String(index) });
    started.set(index, Date.now());
    worker.once("exit", (code, signal) => onExit(index, worker, code, signal));
  };
  const onExit = (index: number, worker: Worker, code: number | null, signal: string | null) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    const lived = Date.now() - (started.get(index) ?? 0);
    const delay =
      lived > HEALTHY_AFTER_MS ? WORKER_RESTART_INITIAL_MS : (delays.get(index) ?? WORKER_RESTART_INITIAL_MS);
    delays.set(index, Math.min(delay * 2, WORKER_RESTART_MAX_MS));
    log.warn(
      { worker: index, pid: worker.process.pid, code, signal, restartInMs: delay },
      "server worker died; restarting it",
    );
    // Not unref'd: with every worker down, this timer is what keeps the primary alive.
    setTimeout(() => fork(index), delay);
  };
  for (let i = 1; i <= count; i++) fork(i);
  for (const sig of ["SIGINT", "SIGTERM"] as const)
    process.once(sig, () => {
      stopping = true;
      log.info({ signal: sig }, "stopping server workers");
      const workers = Object.values(cluster.workers ?? {});
      if (workers.length === 0) process.exit(0);
      for (const w of workers) w?.process.kill(sig);
    });
  log.info({ workers: count }, "server worker pool started");
}
