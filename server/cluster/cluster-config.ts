import { readFileSync } from "node:fs";
import { credsAuthenticator, type ConnectionOptions } from "nats";
import { LEASE_TTL_MS } from "./node-lease.js";

/** `serve --cluster`: how this node joins the others. */
export interface ClusterConfig {
  /** NATS server URLs (`nats://host:4222`, `tls://...`; user:password@ in the URL works too). */
  servers: string[];
  /** This node's id: --node-id, or the one kept in the data dir. */
  nodeId: string;
  /** A NATS `.creds` file (JWT + NKey seed), as `nats` connects with it. */
  credsFile?: string;
  /** PEM files for TLS to NATS: the CA to trust, and a client certificate and key when NATS asks for one. */
  tlsCaFile?: string;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** How long a node's lease lasts without renewal. Defaults to LEASE_TTL_MS (6 s). */
  leaseMs: number;
}

export function defaultLeaseMs(): number {
  return LEASE_TTL_MS;
}

/** The `nats` client's options for this configuration (reconnect and ping settings are the link's). */
export function natsConnectionOptions(config: ClusterConfig): ConnectionOptions {
  const tls =
    config.tlsCaFile || config.tlsCertFile || config.tlsKeyFile
      ? { caFile: config.tlsCaFile, certFile: config.tlsCertFile, keyFile: config.tlsKeyFile }
      : undefined;
  return {
    servers: config.servers,
    name: `rmm-server ${config.nodeId}`,
    ...(config.credsFile ? { authenticator: credsAuthenticator(readFileSync(config.credsFile)) } : {}),
    ...(tls ? { tls } : {}),
  };
}

/** A NATS URL as it may be logged: user and password taken out. */
export function withoutCredentials(url: string): string {
  return url.replace(/^([a-z]+:\/\/)[^@/]*@/i, "$1");
}
