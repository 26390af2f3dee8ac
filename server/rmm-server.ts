import { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError, createServiceImplSpec, type ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Logger } from "../common/logger.js";
import { AgentService } from "../gen/rmm/v1/agent_service_pb.js";
import { TunnelService } from "../gen/rmm/v1/tunnel_service_pb.js";
import { HealthCheckResponse_ServingStatus } from "../gen/grpc/health/v1/health_pb.js";
import { loadOrCreateSigningSecret } from "./auth/signing-secret.js";
import { createTechnicianVerifier } from "./auth/technician-verifier.js";
import { TokenIssuer } from "./auth/token-issuer.js";
import { agentServiceHandler } from "./handlers/agent-service-handler.js";
import { authInterceptor } from "./handlers/auth-interceptor.js";
import { errorInterceptor } from "./handlers/error-interceptor.js";
import { tunnelServiceHandler } from "./handlers/tunnel-service-handler.js";
import { HealthStatus } from "./health/health-status.js";
import { registerHealth } from "./health/health-service.js";
import { grpcFastPath } from "./fast-path/grpc-fast-path.js";
import { createListener, LISTEN_BACKLOG } from "./listener.js";
import { registerReflection } from "./reflection/reflection-service.js";
import type { ServerConfig } from "./server-config.js";
import { AgentDirectory } from "./services/agent-directory.js";
import { AgentRecords } from "./services/agent-records.js";
import { AuditTrail } from "./services/audit-trail.js";
import { SessionHistory } from "./services/session-history.js";
import { AgentEnrollment } from "./services/agent-enrollment.js";
import { AgentPresence } from "./services/agent-presence.js";
import { AgentRegistry } from "./services/agent-registry.js";
import { ChannelRelay } from "./services/channel-relay.js";
import { CommandSupervisor } from "./services/command-supervisor.js";
import { CommandPolicy } from "./policy/command-policy.js";
import { loadPolicyFile } from "./policy/policy-file.js";
import { AuditLog } from "./services/audit-log.js";
import { FileTransferLog } from "./services/file-transfer-log.js";
import { LastSeenBatcher } from "./services/last-seen-batcher.js";
import { SessionService } from "./services/session-service.js";
import {
  AgentStore,
  AuditStore,
  CommandAuditStore,
  FileTransferStore,
  SessionStore,
  isStoreUnavailable,
  migrateToLatest,
  openDatabase,
  parseDatabaseUrl,
  type Db,
} from "./store/index.js";

export interface RunningServer {
  /** The port actually bound (useful with port 0). */
  port: number;
  /** Base URL for clients, e.g. http://127.0.0.1:7443. */
  url: string;
  registry: AgentRegistry;
  issuer: TokenIssuer;
  /** Graceful stop: agents are told, live sessions closed, batches flushed. Idempotent. */
  close(): Promise<void>;
}

/** Waits this long between database attempts at start-up, doubling to the cap. */
const DB_RETRY_INITIAL_MS = 500;
const DB_RETRY_MAX_MS = 15_000;

export async function startServer(config: ServerConfig, log: Logger): Promise<RunningServer> {
  const { secret, created } = loadOrCreateSigningSecret(config.dataDir);
  if (created) {
    log.info(
      { dataDir: config.dataDir, next: `npx rmm-server token --sub YOUR_NAME --data-dir ${config.dataDir}` },
      "first start: generated a new token signing secret; mint a technician token with the command in `next`",
    );
  }
  const issuer = new TokenIssuer(secret, config.issuer, config.audience);

  const dbUrl = parseDatabaseUrl(config.databaseUrl);
  const db = openDatabase(dbUrl);
  const store = dbUrl.kind === "sqlite" ? `sqlite:${dbUrl.path}` : dbUrl.redacted;
  await migrateWhenReachable(db, store, log);

  const agents = new AgentStore(db);
  const sessionStore = new SessionStore(db);
  const auditStore = new AuditStore(db);
  const audit = new AuditLog(auditStore, log);
  const registry = new AgentRegistry();
  const sessions = new SessionService(
    { agents, sessions: sessionStore, audit, registry, log },
    {
      openTimeoutMs: config.openTimeoutMs,
      idleTimeoutMs: config.sessionIdleTimeoutMs,
    },
  );
  const leftovers = await sessions.closeLeftovers();
  if (leftovers > 0) log.warn({ sessions: leftovers }, "closed sessions left open by a previous server");

  const lastSeen = new LastSeenBatcher(agents, log, {
    flushIntervalMs: config.lastSeenFlushMs,
    onRevoked: (ids) => {
      for (const id of ids)
        registry.get(id)?.end(new ConnectError(`agent ${id} has been revoked`, Code.PermissionDenied));
    },
  });
  const relay = new ChannelRelay(sessions, log, { openTimeoutMs: config.openTimeoutMs });
  const policy = config.policyFile ? loadPolicyFile(config.policyFile) : CommandPolicy.allowAll();
  if (policy.isAllowAll)
    log.warn(
      "no --policy file: every technician may run any command, open terminals and read and write any file the agent allows",
    );
  const commandAudit = new CommandAuditStore(db);
  const unfinished = await commandAudit.failRunning(Date.now());
  if (unfinished > 0) log.warn({ commands: unfinished }, "marked commands left running by a previous server as failed");
  const supervisor = new CommandSupervisor(
    { relay, sessions, audit: commandAudit, log },
    {
      policy,
      recordingsDir: config.terminalRecording ? join(config.dataDir, "recordings") : undefined,
      terminalIdleTimeoutMs: config.terminalIdleTimeoutMs,
    },
  );
  const fileTransfers = new FileTransferLog(new FileTransferStore(db), log);
  const interrupted = await fileTransfers.failLeftovers();
  if (interrupted > 0)
    log.warn({ transfers: interrupted }, "marked file transfers left running by a previous server as failed");
  const presence = new AgentPresence({
    agents,
    registry,
    lastSeen,
    sessions,
    relay,
    log,
    settings: {
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      offlineAfterMs: config.offlineAfterMs,
      maxMessageBytes: config.maxMessageBytes,
    },
  });
  const enrollment = new AgentEnrollment(agents, issuer, audit);
  const directory = new AgentDirectory(agents, sessionStore, registry);
  const records = new AgentRecords(agents, sessionStore, registry, audit);
  const auditTrail = new AuditTrail(auditStore);
  const sessionHistory = new SessionHistory(sessionStore);
  const verifyTechnician = createTechnicianVerifier({
    keys: config.jwks ? { kind: "jwks", location: config.jwks } : { kind: "secret", secret },
    issuer: config.issuer,
    audience: config.audience,
  });

  const health = new HealthStatus();
  const agentImpl = agentServiceHandler({ enrollment, presence, helloTimeoutMs: config.helloTimeoutMs });
  const tunnelImpl = tunnelServiceHandler({
    sessions,
    directory,
    records,
    auditTrail,
    sessionHistory,
    relay,
    supervisor,
    files: { transfers: fileTransfers, maxTransferBytes: config.maxTransferBytes, policy, sessions },
  });
  const routes = (router: ConnectRouter) => {
    router.service(AgentService, agentImpl);
    router.service(TunnelService, tunnelImpl);
    registerHealth(router, health);
    registerReflection(router, [AgentService, TunnelService]);
  };
  const interceptors = [
    errorInterceptor(log),
    authInterceptor({ verifyTechnician, authenticateAgent: (h) => enrollment.authenticate(h) }),
  ];
  const connectHandler = connectNodeAdapter({
    routes,
    interceptors,
    // Measured here: gzip cut stream throughput from 374 to 126 MB/s, and tunnel data is mostly compressed already.
    acceptCompression: [],
    readMaxBytes: config.maxMessageBytes,
    writeMaxBytes: config.maxMessageBytes,
    // No shutdownSignal: connect links it into every call's signal, one
    // listener per call on one shared AbortSignal (10k agents, 10k listeners,
    // each removal a walk of the list). Shutdown ends the agents' streams
    // itself, and their sessions, pending opens and channels end with them.
  });
  const fastPath = grpcFastPath({
    services: [
      createServiceImplSpec<typeof AgentService>(AgentService, agentImpl),
      createServiceImplSpec<typeof TunnelService>(TunnelService, tunnelImpl),
    ],
    interceptors,
    readMaxBytes: config.maxMessageBytes,
    writeMaxBytes: config.maxMessageBytes,
  });
  const handler: typeof connectHandler = (req, res) => {
    if (req instanceof Http2ServerRequest && res instanceof Http2ServerResponse && fastPath(req, res)) return;
    connectHandler(req, res);
  };
  const listener = createListener(handler, config.tls);
  await new Promise<void>((resolve, reject) => {
    listener.server.once("error", reject);
    listener.server.listen({ port: config.port, host: config.host, backlog: LISTEN_BACKLOG }, () => {
      listener.server.off("error", reject);
      resolve();
    });
  });
  const port = (listener.server.address() as AddressInfo).port;
  const url = `${config.tls ? "https" : "http"}://${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`;

  lastSeen.start();
  const sweep = setInterval(
    () => {
      for (const conn of registry.endSilent(Date.now(), config.offlineAfterMs)) {
        log.warn({ agentId: conn.agentId }, "agent missed its heartbeats; stream ended");
        // Not left to the stream handler alone: a write to a vanished agent can wait on flow control forever.
        void presence
          .disconnected(conn, "missed heartbeats")
          .catch((err: unknown) => log.warn({ err, agentId: conn.agentId }, "could not record the agent's disconnect"));
      }
    },
    Math.max(250, Math.floor(config.offlineAfterMs / 4)),
  );
  sweep.unref();
  const idleSweep = setInterval(
    () => {
      sessions
        .closeIdle(Date.now())
        .catch((err: unknown) => log.warn({ err }, "idle session sweep failed; next sweep retries"));
    },
    Math.min(30_000, Math.max(100, Math.floor(config.sessionIdleTimeoutMs / 4))),
  );
  idleSweep.unref();
  for (const service of ["", AgentService.typeName, TunnelService.typeName])
    health.set(service, HealthCheckResponse_ServingStatus.SERVING);
  log.info({ url, store, tls: config.tls !== undefined }, "rmm-server listening");

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      health.shutdown();
      clearInterval(sweep);
      clearInterval(idleSweep);
      for (const conn of registry.all())
        conn.end(new ConnectError("server shutting down; reconnect", Code.Unavailable));
      await listener.shutdown(config.shutdownGraceMs);
      await sessions
        .closeAllForShutdown()
        .catch((err: unknown) => log.warn({ err }, "could not close live sessions; the next start will"));
      await lastSeen.stop();
      await db.destroy();
      log.info("rmm-server stopped");
    })());
  return { port, url, registry, issuer, close };
}

/** A database that is still starting is waited for (with progress in the log); a misconfigured one fails at once. */
async function migrateWhenReachable(db: Db, store: string, log: Logger): Promise<void> {
  for (let attempt = 1, delay = DB_RETRY_INITIAL_MS; ; attempt++, delay = Math.min(delay * 2, DB_RETRY_MAX_MS)) {
    try {
      const { applied } = await migrateToLatest(db);
      if (applied.length > 0) log.info({ store, applied }, "database migrated");
      return;
    } catch (err) {
      const cause = err instanceof Error && err.cause !== undefined ? err.cause : err;
      if (!isStoreUnavailable(cause)) throw err;
      log.warn({ store, attempt, retryInMs: delay, err: String(cause) }, "database unreachable; waiting");
      await sleep(delay);
    }
  }
}
