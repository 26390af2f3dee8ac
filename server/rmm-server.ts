import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  Code,
  ConnectError,
  createContextValues,
  createRouterTransport,
  createServiceImplSpec,
  type ConnectRouter,
} from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Logger } from "../common/logger.js";
import { AgentService } from "../gen/rmm/v1/agent_service_pb.js";
import { JobService } from "../gen/rmm/v1/job_service_pb.js";
import { TunnelService } from "../gen/rmm/v1/tunnel_service_pb.js";
import { HealthCheckResponse_ServingStatus } from "../gen/grpc/health/v1/health_pb.js";
import { peerAddress, peerKey } from "./auth/peer.js";
import { loadOrCreateSigningSecret, loadSigningSecretFile } from "./auth/signing-secret.js";
import { ClusterNode, LEASE_POOL_SIZE } from "./cluster/index.js";
import { createTechnicianVerifier } from "./auth/technician-verifier.js";
import { TokenIssuer } from "./auth/token-issuer.js";
import { TokenRevocations } from "./auth/token-revocations.js";
import { agentServiceHandler } from "./handlers/agent-service-handler.js";
import { authInterceptor } from "./handlers/auth-interceptor.js";
import { errorInterceptor } from "./handlers/error-interceptor.js";
import { jobServiceHandler } from "./handlers/job-service-handler.js";
import { JobRunner } from "./jobs/job-runner.js";
import { mcpAccessInterceptor } from "./handlers/mcp-access-interceptor.js";
import { tunnelServiceHandler } from "./handlers/tunnel-service-handler.js";
import { HealthStatus } from "./health/health-status.js";
import { registerHealth } from "./health/health-service.js";
import { grpcFastPath } from "./fast-path/grpc-fast-path.js";
import { secureDataDir } from "./data-dir-permissions.js";
import { keepaliveFromHeartbeat } from "./connection-keepalive.js";
import { createListener, LISTEN_BACKLOG } from "./listener.js";
import { startMetricsListener, type MetricsListener } from "./observability/metrics-listener.js";
import { databaseReadiness, Readiness } from "./observability/readiness.js";
import { rpcObserverInterceptor } from "./observability/rpc-observer-interceptor.js";
import { ServerMetrics } from "./observability/server-metrics.js";
import { tracingInterceptor } from "./observability/tracing-interceptor.js";
import type { Tracer } from "@opentelemetry/api";
import { inProcessTransport } from "./mcp/in-process-transport.js";
import { mcpHttpHandler } from "./mcp/mcp-http-handler.js";
import { registerReflection } from "./reflection/reflection-service.js";
import { streamBridge } from "./web/stream-bridge.js";
import { webAssets } from "./web/web-assets.js";
import type { ServerConfig } from "./server-config.js";
import { unknownMethodFallback } from "./unknown-method.js";
import { AgentDirectory } from "./services/agent-directory.js";
import { AgentRecords } from "./services/agent-records.js";
import { AuditTrail } from "./services/audit-trail.js";
import { SessionHistory } from "./services/session-history.js";
import { RecordingLibrary } from "./services/recording-library.js";
import { AgentEnrollment } from "./services/agent-enrollment.js";
import { AgentLabels } from "./services/agent-labels.js";
import { AgentPresence } from "./services/agent-presence.js";
import { AgentRegistry } from "./services/agent-registry.js";
import { ChannelRelay } from "./services/channel-relay.js";
import { CommandSupervisor } from "./services/command-supervisor.js";
import { ForwardSupervisor } from "./services/forward-supervisor.js";
import { CommandPolicy } from "./policy/command-policy.js";
import { loadPolicyFile } from "./policy/policy-file.js";
import { AuditLog } from "./services/audit-log.js";
import { AuthFailureAudit } from "./services/auth-failure-audit.js";
import { FileTransferLog } from "./services/file-transfer-log.js";
import { LastSeenBatcher } from "./services/last-seen-batcher.js";
import { ProtocolFaults } from "./services/protocol-faults.js";
import { SessionService } from "./services/session-service.js";
import {
  AgentStore,
  AuditStore,
  CommandAuditStore,
  RecordingStore,
  FileTransferStore,
  ForwardAuditStore,
  RevokedTokenStore,
  JobStore,
  SessionStore,
  isStoreUnavailable,
  migrateToLatest,
  openDatabase,
  openPoolConnections,
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
  /** Base URL of the metrics and probe listener (`/metrics`, `/healthz`, `/readyz`); undefined when it is off. */
  metricsUrl: string | undefined;
  /** Graceful stop: agents are told, live sessions closed, batches flushed. Idempotent. */
  close(): Promise<void>;
}

/** Waits this long between database attempts at start-up, doubling to the cap. */
const DB_RETRY_INITIAL_MS = 500;
const DB_RETRY_MAX_MS = 15_000;

export interface ServerHooks {
  /** Every RPC becomes a span of this tracer (see observability/tracing.ts); none when absent. */
  tracer?: Tracer;
}

export async function startServer(config: ServerConfig, log: Logger, hooks: ServerHooks = {}): Promise<RunningServer> {
  const dbUrl = parseDatabaseUrl(config.databaseUrl);
  const sqliteFiles =
    dbUrl.kind === "sqlite" && dbUrl.path !== ":memory:" ? ["", "-wal", "-shm"].map((s) => dbUrl.path + s) : [];
  if (config.cluster && dbUrl.kind === "sqlite")
    throw new Error(
      "--cluster needs MySQL or MariaDB (--db mysql://user:pass@host:3306/rmm): the nodes share one database, and a SQLite file lives on one host",
    );
  secureDataDir(config.dataDir, log, sqliteFiles);
  const { secret, created } = config.signingSecretFile
    ? { secret: loadSigningSecretFile(config.signingSecretFile), created: false }
    : loadOrCreateSigningSecret(config.dataDir);
  if (created) {
    log.info(
      { dataDir: config.dataDir, next: `npx rmm-server token --sub YOUR_NAME --data-dir ${config.dataDir}` },
      "first start: generated a new token signing secret; mint a technician token with the command in `next`",
    );
  }
  const issuer = new TokenIssuer(secret, config.issuer, config.audience);

  const registry = new AgentRegistry();
  const metrics = new ServerMetrics({
    agents: () => registry.all(),
    ...(config.cluster ? { cluster: () => cluster?.stats() } : {}),
  });
  const db = openDatabase(dbUrl, metrics);
  const store = dbUrl.kind === "sqlite" ? `sqlite:${dbUrl.path}` : dbUrl.redacted;
  await migrateWhenReachable(db, store, log);
  await openPoolConnections(db, dbUrl);

  // Cluster mode: rows this node is responsible for carry its id, and start-up closes only its own earlier run's.
  const nodeId = config.cluster?.nodeId;
  const cluster = config.cluster
    ? new ClusterNode(config.cluster, db, openDatabase(dbUrl, metrics, LEASE_POOL_SIZE), log, config.maxMessageBytes)
    : undefined;
  await cluster?.forgetEarlierRun();
  const agents = new AgentStore(db);
  const sessionStore = new SessionStore(db, nodeId);
  const auditStore = new AuditStore(db);
  const audit = new AuditLog(auditStore, log);
  const policy = config.policyFile ? loadPolicyFile(config.policyFile) : CommandPolicy.allowAll();
  const sessions = new SessionService(
    { agents, sessions: sessionStore, audit, registry, log },
    {
      openTimeoutMs: config.openTimeoutMs,
      idleTimeoutMs: config.sessionIdleTimeoutMs,
      ephemeralGraceMs: config.ephemeralGraceMs,
      writeRetryMaxMs: config.sessionWriteRetryMaxMs,
      exclusiveRoles: policy.exclusiveRoles,
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
  const faults = new ProtocolFaults(audit, log);
  const relay = new ChannelRelay(sessions, faults, { openTimeoutMs: config.openTimeoutMs }, metrics);
  if (policy.isAllowAll)
    log.warn(
      "no --policy file: every technician may run any command, open terminals, read and write any file and forward to any port the agent allows",
    );
  const commandAudit = new CommandAuditStore(db, nodeId);
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
  const jobStore = new JobStore(db, nodeId);
  const jobs = new JobRunner({
    store: jobStore,
    agents,
    registry,
    policy,
    // An exclusive tunnel session holds new steps on its agent back until it closes.
    gate: sessions,
    audit,
    log: log.child({ component: "jobs" }),
    observer: metrics,
    peers: cluster?.jobs,
  });
  if (cluster) {
    cluster.jobs.attach(jobs);
    jobs.events.relay = (jobId, event) => cluster.jobs.relay(jobId, event);
  }
  await jobs.start();
  const fileTransfers = new FileTransferLog(new FileTransferStore(db, nodeId), log);
  const interrupted = await fileTransfers.failLeftovers();
  if (interrupted > 0)
    log.warn({ transfers: interrupted }, "marked file transfers left running by a previous server as failed");
  const forwards = new ForwardSupervisor({ relay, sessions, audit: new ForwardAuditStore(db), policy, log });
  const presence = new AgentPresence({
    agents,
    registry,
    lastSeen,
    sessions,
    relay,
    faults,
    log,
    observer: metrics,
    jobs,
    placement: cluster?.placement,
    settings: {
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      offlineAfterMs: config.offlineAfterMs,
      maxMessageBytes: config.maxMessageBytes,
    },
  });
  const enrollment = new AgentEnrollment(agents, issuer, audit);
  const directory = new AgentDirectory(agents, sessionStore, registry, cluster?.fleet);
  const revocations = new TokenRevocations(
    new RevokedTokenStore(db),
    config.maxTokenTtlMs,
    log,
    config.revocationRefreshMs,
  );
  await revocations.refresh();
  const records = new AgentRecords(agents, directory, registry, audit);
  const auditTrail = new AuditTrail(auditStore);
  const sessionHistory = new SessionHistory(sessionStore);
  const recordings = new RecordingLibrary(
    { store: new RecordingStore(db), audit, log },
    resolve(config.dataDir, "recordings"),
  );
  const verifyTechnician = createTechnicianVerifier({
    keys: config.jwks ? { kind: "jwks", location: config.jwks } : { kind: "secret", secret },
    issuer: config.issuer,
    audience: config.audience,
    maxTokenTtlMs: config.maxTokenTtlMs,
    revocations,
  });

  const health = new HealthStatus();
  const authFailures = new AuthFailureAudit(audit, config.authFailureWindowMs);
  const agentImpl = agentServiceHandler({
    enrollment,
    presence,
    helloTimeoutMs: config.helloTimeoutMs,
    authFailures,
  });
  const localTunnelImpl = tunnelServiceHandler({
    sessions,
    directory,
    labels: new AgentLabels(agents, audit),
    records,
    auditTrail,
    sessionHistory,
    recordings,
    relay,
    supervisor,
    forwards,
    files: { transfers: fileTransfers, maxTransferBytes: config.maxTransferBytes, policy, sessions },
  });
  const jobImpl = jobServiceHandler({ runner: jobs, store: jobStore });
  const routesWith = (tunnel: typeof localTunnelImpl) => (router: ConnectRouter) => {
    router.service(AgentService, agentImpl);
    router.service(TunnelService, tunnel);
    router.service(JobService, jobImpl);
    registerHealth(router, health);
    registerReflection(router, [AgentService, TunnelService, JobService]);
  };
  const interceptors = [
    ...(hooks.tracer ? [tracingInterceptor(hooks.tracer)] : []),
    rpcObserverInterceptor({ metrics, log, agentOfSession: (id) => sessions.activeSession(id)?.agentId }),
    errorInterceptor(log),
    authInterceptor({
      verifyTechnician,
      authenticateAgent: (h) => enrollment.authenticate(h),
      refused: (failure) => authFailures.record(failure),
    }),
    mcpAccessInterceptor({ policy, audit }),
  ];
  // Calls other nodes route here run on the local handlers, through the same interceptors.
  const tunnelImpl = cluster
    ? cluster.route(localTunnelImpl, {
        registry,
        sessions,
        sessionStore,
        services: [TunnelService],
        localTransport: createRouterTransport(routesWith(localTunnelImpl), {
          router: { interceptors, readMaxBytes: config.maxMessageBytes, writeMaxBytes: config.maxMessageBytes },
          transport: { readMaxBytes: config.maxMessageBytes, writeMaxBytes: config.maxMessageBytes },
        }),
        maxMessageBytes: config.maxMessageBytes,
      })
    : localTunnelImpl;
  const routes = routesWith(tunnelImpl);
  const connectHandler = connectNodeAdapter({
    routes,
    interceptors,
    // Measured here: gzip cut stream throughput from 374 to 126 MB/s, and tunnel data is mostly compressed already.
    acceptCompression: [],
    fallback: unknownMethodFallback,
    contextValues: (req) => createContextValues().set(peerKey, peerAddress(req.socket)),
    readMaxBytes: config.maxMessageBytes,
    writeMaxBytes: config.maxMessageBytes,
    // No shutdownSignal: connect links it into every call's signal, one
    // listener per call on one shared AbortSignal (10k agents, 10k listeners,
    // each removal a walk of the list). Shutdown ends the agents' streams
    // itself, and their sessions, pending opens and channels end with them.
  });
  const fastPath = config.fastPath
    ? grpcFastPath({
        services: [
          createServiceImplSpec<typeof AgentService>(AgentService, agentImpl),
          createServiceImplSpec<typeof TunnelService>(TunnelService, tunnelImpl),
          createServiceImplSpec<typeof JobService>(JobService, jobImpl),
        ],
        interceptors,
        readMaxBytes: config.maxMessageBytes,
        writeMaxBytes: config.maxMessageBytes,
        contextValues: (socket) => createContextValues().set(peerKey, peerAddress(socket)),
      })
    : undefined;
  const mcp = mcpHttpHandler({
    verifyTechnician,
    policy,
    audit,
    tls: config.tls !== undefined,
    log,
    transport: inProcessTransport(routes, { interceptors, maxMessageBytes: config.maxMessageBytes }),
  });
  // Every service this server routes lives in the rmm or grpc (health, reflection) package.
  const webConsole = webAssets(config.webRoot, ["rmm", "grpc"]);
  const handler: typeof connectHandler = (req, res) => {
    if (mcp.matches(req)) return mcp.handle(req, res);
    if (webConsole(req, res)) return;
    connectHandler(req, res);
  };
  // Browsers cannot stream a request body, so their client-streaming and bidi calls (terminals, uploads)
  // come over a WebSocket and run through the same routes and interceptors, in process.
  const bridge = streamBridge({
    services: [TunnelService],
    transport: createRouterTransport(routes, {
      router: { interceptors, readMaxBytes: config.maxMessageBytes, writeMaxBytes: config.maxMessageBytes },
      transport: { readMaxBytes: config.maxMessageBytes, writeMaxBytes: config.maxMessageBytes },
    }),
    maxMessageBytes: config.maxMessageBytes,
    log,
  });
  const listener = createListener(handler, {
    tls: config.tls,
    idleConnectionMs: config.idleConnectionMs,
    keepalive: {
      ...keepaliveFromHeartbeat(config.heartbeatIntervalMs, config.offlineAfterMs),
      paths: new Set([`/${AgentService.typeName}/${AgentService.method.connect.name}`]),
    },
    upgrade: bridge,
    streams: fastPath,
  });
  await cluster?.start(`${config.host}:${config.port}`);
  await new Promise<void>((resolve, reject) => {
    listener.server.once("error", reject);
    listener.server.listen({ port: config.port, host: config.host, backlog: LISTEN_BACKLOG }, () => {
      listener.server.off("error", reject);
      resolve();
    });
  });
  const port = (listener.server.address() as AddressInfo).port;
  const url = `${config.tls ? "https" : "http"}://${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`;

  cluster?.listeningAt(url);
  lastSeen.start();
  revocations.start();
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
  const servedServices = ["", AgentService.typeName, TunnelService.typeName, JobService.typeName];
  for (const service of servedServices) health.set(service, HealthCheckResponse_ServingStatus.SERVING);
  const readiness = new Readiness([databaseReadiness(db)], health, servedServices, {
    intervalMs: config.readinessIntervalMs,
  });
  readiness.start();
  let metricsListener: MetricsListener | undefined;
  if (config.metricsListen) {
    metricsListener = await startMetricsListener(config.metricsListen, { metrics, readiness, log }).catch(
      async (err: unknown) => {
        readiness.stop();
        await listener.shutdown(0);
        await db.destroy();
        throw new Error(`--metrics-listen: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      },
    );
  }
  log.info(
    { url, store, tls: config.tls !== undefined, metrics: metricsListener?.url ?? "off", nodeId: nodeId ?? "none" },
    "rmm-server listening",
  );

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      readiness.stop();
      health.shutdown();
      clearInterval(sweep);
      clearInterval(idleSweep);
      revocations.stop();
      await mcp.close();
      for (const conn of registry.all())
        conn.end(new ConnectError("server shutting down; reconnect", Code.Unavailable));
      await listener.shutdown(config.shutdownGraceMs);
      await sessions
        .closeAllForShutdown()
        .catch((err: unknown) => log.warn({ err }, "could not close live sessions; the next start will"));
      await cluster
        ?.close()
        .catch((err: unknown) => log.warn({ err }, "could not leave the cluster cleanly; the lease expires by itself"));
      await jobs.close().catch((err: unknown) => log.warn({ err }, "could not write the last job step results"));
      await lastSeen.stop();
      await authFailures.stop();
      await db.destroy();
      await metricsListener?.close();
      log.info("rmm-server stopped");
    })());
  return { port, url, registry, issuer, metricsUrl: metricsListener?.url, close };
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
