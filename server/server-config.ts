import { join, resolve } from "node:path";
import { TECHNICIAN_AUDIENCE_DEFAULT, TOKEN_ISSUER_DEFAULT } from "./auth/claims.js";
import { DEFAULT_MAX_TOKEN_TTL_MS } from "./auth/token-limits.js";
import { REVOCATION_REFRESH_MS } from "./auth/token-revocations.js";
import type { TlsFiles } from "./listener.js";
import { AUTH_FAILURE_WINDOW_MS } from "./services/auth-failure-audit.js";

export interface ServerConfig {
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
  /** A connection with no open stream this long is closed. Defaults to 60 s: far past any client's pause between calls. */
  idleConnectionMs: number;
  /** Longest technician token lifetime (`exp - iat`) accepted. Defaults to 24 h. */
  maxTokenTtlMs: number;
  /** Token revocations are read from the database this often. Defaults to 10 s. */
  revocationRefreshMs: number;
  /** Refused authentications are summed per source over this window in the audit trail. Defaults to 60 s. */
  authFailureWindowMs: number;
}

export const DEFAULT_PORT = 7443;
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 25_000;
export const DEFAULT_MAX_TRANSFER_BYTES = 4 * 1024 ** 3;
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
    offlineAfterMs: heartbeatIntervalMs * 3,
    openTimeoutMs: 10_000,
    sessionIdleTimeoutMs: 30 * 60_000,
    helloTimeoutMs: 10_000,
    lastSeenFlushMs: 5_000,
    maxMessageBytes: 4 << 20,
    maxTransferBytes: DEFAULT_MAX_TRANSFER_BYTES,
    shutdownGraceMs: 3_000,
    policyFile: undefined,
    terminalIdleTimeoutMs: 20 * 60_000,
    terminalRecording: true,
    idleConnectionMs: DEFAULT_IDLE_CONNECTION_MS,
    maxTokenTtlMs: DEFAULT_MAX_TOKEN_TTL_MS,
    revocationRefreshMs: REVOCATION_REFRESH_MS,
    authFailureWindowMs: AUTH_FAILURE_WINDOW_MS,
    ...overrides,
    dataDir,
    heartbeatIntervalMs,
  };
}

/** Parses `HOST:PORT`, `[::1]:PORT` or `:PORT`. */
export function parseListen(value: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value);
  const port = Number(match?.[3]);
  if (!match || port > 65_535) throw new Error(`--listen "${value}" is not HOST:PORT (for example 127.0.0.1:7443)`);
  return { host: match[1] ?? (match[2] || "0.0.0.0"), port };
}
