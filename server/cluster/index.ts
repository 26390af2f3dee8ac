// What the rest of the server uses of cluster mode: the node (wired by rmm-server.ts), its flags and
// the worker pool (main.ts). Everything else in this folder is the node's own machinery.
export { ClusterNode, type ClusterServeDeps } from "./cluster-node.js";
export { LEASE_POOL_SIZE } from "./node-lease.js";
export type { ClusterConfig } from "./cluster-config.js";
export { clusterConfigFromFlags, type ClusterFlags } from "./cluster-flags.js";
export { poolRole, runWorkerPool, workerNodeId, type PoolRole } from "./worker-pool.js";
export type { Reclaimed } from "./node-reaper.js";
