import { parseDuration } from "../../common/duration.js";
import type { ClusterConfig } from "./cluster-config.js";
import { LEASE_TTL_MS } from "./node-lease.js";
import { checkNodeId, loadOrCreateNodeId } from "./node-id.js";

/** `serve`'s cluster flags as commander hands them over. */
export interface ClusterFlags {
  cluster?: string;
  nodeId?: string;
  natsCreds?: string;
  natsTlsCa?: string;
  natsTlsCert?: string;
  natsTlsKey?: string;
  clusterLease?: string;
}

/** Smallest lease: renewals every third of it must fit database round trips. */
const MIN_LEASE_MS = 1_500;

/** The cluster configuration, or undefined without --cluster (the other cluster flags then are refused). */
export function clusterConfigFromFlags(flags: ClusterFlags, dataDir: string): ClusterConfig | undefined {
  if (!flags.cluster) {
    const stray = (["nodeId", "natsCreds", "natsTlsCa", "natsTlsCert", "natsTlsKey", "clusterLease"] as const).find(
      (k) => flags[k] !== undefined,
    );
    if (stray) throw new Error(`--${kebab(stray)} needs --cluster nats://HOST:4222`);
    return undefined;
  }
  const servers = flags.cluster
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  for (const s of servers)
    if (!/^(nats|tls|ws|wss):\/\/[^\s/]+/.test(s))
      throw new Error(`--cluster "${s.slice(0, 120)}" is not a NATS URL (nats://HOST:4222 or tls://HOST:4222)`);
  const leaseMs = flags.clusterLease ? parseDuration(flags.clusterLease, "--cluster-lease") : LEASE_TTL_MS;
  if (leaseMs < MIN_LEASE_MS) throw new Error(`--cluster-lease must be at least ${MIN_LEASE_MS} ms`);
  return {
    servers,
    nodeId: flags.nodeId !== undefined ? checkNodeId(flags.nodeId) : loadOrCreateNodeId(dataDir),
    credsFile: flags.natsCreds,
    tlsCaFile: flags.natsTlsCa,
    tlsCertFile: flags.natsTlsCert,
    tlsKeyFile: flags.natsTlsKey,
    leaseMs,
  };
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
