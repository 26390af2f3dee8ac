import { defaultWebRoot } from "./web/web-assets.js";
import { join, resolve } from "node:path";
import { DEFAULT_HEARTBEAT_INTERVAL_MS } from "../common/heartbeat-interval.js";
import { TECHNICIAN_AUDIENCE_DEFAULT, TOKEN_ISSUER_DEFAULT } from "./auth/claims.js";
import { DEFAULT_MAX_TOKEN_TTL_MS } from "./auth/token-limits.js";
import { REVOCATION_REFRESH_MS } from "./auth/token-revocations.js";
import type { TlsFiles } from "./listener.js";
import type { ClusterConfig } from "./cluster/index.js";
import { READINESS_INTERVAL_MS } from "./observability/readiness.js";
import { WRITE_RETRY_MAX_MS } from "./services/session-lifecycle.js";
import { AUTH_FAILURE_WINDOW_MS } from "./services/auth-failure-audit.js";

export interface ServerConfig {
  /** Cluster mode (`--cluster`): this node joins others on one MySQL database and NATS. Undefined: one server. */
  cluster?: ClusterConfig;
  /**
   * The token signing secret's file, when not <dataDir>/jwt-secret.key (nodes of a cluster must share one).
   * It must exist: a node never makes a secret the others do not have.
   */
  signingSecretFile?: string;
  /** Interface to listen on. Defaults to 127.0.0.1: expose it deliberately. */
  host: string;
  /** TCP port; 0 picks a free one. Defaults to 7443. */
  port: number;
  /** Holds the signing secret and the default SQLite file. Defaults to ./data. */
  dataDir: string;
  /** `sqlite:PATH` or `mysql://user:pass@host:port/db`. Defaults to sqlite:<dataDir>/rmm.sqlite. */
  databaseUrl: string;
  /** Cleartext HTTP/2 (and HTTP/1.1) when absent. */
  tls: TlsFiles | undefined;
  /** Technician tokens are checked against this JWKS (file or URL) instead of the local secret. */
  jwks: string | undefined;
  /** Expected `iss` of every token. Defaults to "rmm-server". */
  issuer: string;
  /** Expected `aud` of technician tokens. Defaults to "rmm-api". */
  audience: string;
  /** Agents heartbeat this often. Defaults to 25 s: under the 60 s idle timeout common to load balancers. */
  heartbeatIntervalMs: number;
  /** An agent silent this long is offline and its stream is ended. Defaults to 3 heartbeats. */
  offlineAfterMs: number;
  /** OpenTunnel waits this long for the agent. Defaults to 10 s. */
  openTimeoutMs: number;
  /** An active session with no channel traffic this long is closed as idle_timeout. Defaults to 30 min. */
  sessionIdleTimeoutMs: number;
  /** An ephemeral session (opened by a command) with no channel this long is closed as released. Defaults to 10 s. */
  ephemeralGraceMs: number;
  /** Longest wait between retries of a session row write the database refused. Defaults to 30 s. */
  sessionWriteRetryMaxMs: number;
  /** A new agent stream must send hello within this. Defaults to 10 s. */
  helloTimeoutMs: number;
  /** Heartbeat last-seen times reach the database this often. Defaults to 5 s. */
  lastSeenFlushMs: number;
  /**
   * Shutdown waits this long for in-flight calls and half-closed streams before
   * cutting connections. Defaults to 3 s.
   */
  shutdownGraceMs: number;
  /** Largest message accepted or sent. Defaults to 4 MiB: room for 64 KiB tunnel chunks with headroom, far under the 4 GiB default. */
  maxMessageBytes: number;
  /** JSON command and file policy (see README). Undefined: every command, terminal and file request is allowed, with a warning at start. */
  policyFile: string | undefined;
  /** Terminals with no input or output this long are closed, saying why. Defaults to 20 min. */
  terminalIdleTimeoutMs: number;
  /** Record every terminal as asciicast v2 under <dataDir>/recordings. Defaults to true. */
  terminalRecording: boolean;
  /** Largest file one Upload or Download may carry; 0: no limit. Defaults to 4 GiB. */
  maxTransferBytes: number;
  /**
   * Where `/metrics`, `/healthz` and `/readyz` listen. Undefined (the default):
   * off. Unauthenticated, so it never shares the API port; keep it on loopback
   * or a monitoring network.
   */
  metricsListen: { host: string; port: number } | undefined;
  /** How often readiness (database reachable, migrations applied) is mirrored into grpc.health.v1. Defaults to 5 s. */
  readinessIntervalMs: number;
  /** A connection with no open stream this long is closed. Defaults to 60 s: far past any client's pause between calls. */
  idleConnectionMs: number;
  /** Longest technician token lifetime (`exp - iat`) accepted. Defaults to 24 h. */
  maxTokenTtlMs: number;
  /** Token revocations are read from the database this often. Defaults to 10 s. */
  revocationRefreshMs: number;
  /** Refused authentications are summed per source over this window in the audit trail. Defaults to 60 s. */
  authFailureWindowMs: number;
  /** The built web console served on GET outside the RPC paths. Defaults to web/dist in the package. */
  webRoot: string;
  /**
   * Serve binary gRPC calls on the fast path (server/fast-path/), which uses
   * @connectrpc/connect functions marked @private (see README, "The gRPC fast
   * path"). Defaults to true; `--no-fast-path` leaves every call to connect-node.
   */
  fastPath: boolean;
}

export const DEFAULT_PORT = 7443;
export const DEFAULT_MAX_TRANSFER_BYTES = 4 * 1024 ** 3;
/**
 * How long OpenTunnel waits for the agent to accept, in milliseconds, before
 * closing the session as `timeout`. Defaults to 10 s: an online agent answers
 * in one round trip; a caller should not hang on one that cannot.
 */
export const OPEN_TIMEOUT_MS = 10_000;
/**
 * An active session with no channel traffic for this long, in milliseconds, is
 * closed as `idle_timeout`. Defaults to 30 min: long enough for a technician
 * reading output, short enough that a forgotten tunnel does not stay open all day.
 */
export const SESSION_IDLE_TIMEOUT_MS = 30 * 60_000;
/**
 * Terminals with no input or output this long, in milliseconds, are closed.
 * Defaults to 20 min, under the session idle timeout so the terminal says why it ended.
 */
export const TERMINAL_IDLE_TIMEOUT_MS = 20 * 60_000;
/**
 * A session a command opened (ephemeral) is closed once it has had no channel for this long, in
 * milliseconds. Defaults to 10 s: long enough for a command to open its first channel after
 * OpenTunnel, or its next one after the last ended.
 */
export const EPHEMERAL_GRACE_MS = 10_000;
/** An agent silent for this many heartbeat intervals is offline. */
export const OFFLINE_AFTER_HEARTBEATS = 3;
/** A connection with no open stream this long is closed. Defaults to 60 s: far past any client's pause between calls. */
export const DEFAULT_IDLE_CONNECTION_MS = 60_000;

export function defaultServerConfig(overrides: Partial<ServerConfig> = {}): ServerConfig {
  const dataDir = resolve(overrides.dataDir ?? "data");
  const heartbeatIntervalMs = overrides.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
  return {
    host: "127.0.0.1",
    port: DEFAULT_PORT,
    databaseUrl: `sqlite:${join(dataDir, "rmm.sqlite")}`,
    tls: undefined,
    jwks: undefined,
    issuer: TOKEN_ISSUER_DEFAULT,
    audience: TECHNICIAN_AUDIENCE_DEFAULT,
    offlineAfterMs: heartbeatIntervalMs * OFFLINE_AFTER_HEARTBEATS,
    openTimeoutMs: OPEN_TIMEOUT_MS,
    sessionIdleTimeoutMs: SESSION_IDLE_TIMEOUT_MS,
    ephemeralGraceMs: EPHEMERAL_GRACE_MS,
    sessionWriteRetryMaxMs: WRITE_RETRY_MAX_MS,
    helloTimeoutMs: 10_000,
    lastSeenFlushMs: 5_000,
    maxMessageBytes: 4 << 20,
    maxTransferBytes: DEFAULT_MAX_TRANSFER_BYTES,
    shutdownGraceMs: 3_000,
    policyFile: undefined,
    terminalIdleTimeoutMs: TERMINAL_IDLE_TIMEOUT_MS,
    terminalRecording: true,
    metricsListen: undefined,
    readinessIntervalMs: READINESS_INTERVAL_MS,
    idleConnectionMs: DEFAULT_IDLE_CONNECTION_MS,
    maxTokenTtlMs: DEFAULT_MAX_TOKEN_TTL_MS,
    revocationRefreshMs: REVOCATION_REFRESH_MS,
    authFailureWindowMs: AUTH_FAILURE_WINDOW_MS,
    webRoot: defaultWebRoot(),
    fastPath: true,
    ...overrides,
    dataDir,
    heartbeatIntervalMs,
  };
}

/** Parses `HOST:PORT`, `[::1]:PORT` or `:PORT`. */
export function parseListen(
  value: string,
  flag = "--listen",
  example = "127.0.0.1:7443",
): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value);
  const port = Number(match?.[3]);
  if (!match || port > 65_535) throw new Error(`${flag} "${value}" is not HOST:PORT (for example ${example})`);
  return { host: match[1] ?? (match[2] || "0.0.0.0"), port };
}
