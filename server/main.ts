#!/usr/bin/env node
import { userInfo } from "node:os";
import { RMM_VERSION } from "../common/version.js";
import { Command, Option } from "commander";
import { formatDuration, parseDuration } from "../common/duration.js";
import { DEFAULT_HEARTBEAT_INTERVAL_MS } from "../common/heartbeat-interval.js";
import { parseByteSize } from "../common/byte-size.js";
import { createLogger } from "../common/logger.js";
import { ROLES, TECHNICIAN_AUDIENCE_DEFAULT, TOKEN_ISSUER_DEFAULT, type Role } from "./auth/claims.js";
import { loadOrCreateSigningSecret } from "./auth/signing-secret.js";
import { TokenIssuer } from "./auth/token-issuer.js";
import { DEFAULT_MAX_TOKEN_TTL_MS } from "./auth/token-limits.js";
import { tracingFromEnvironment } from "./observability/tracing.js";
import { startServer } from "./rmm-server.js";
import { clusterConfigFromFlags, poolRole, runWorkerPool, workerNodeId, type ClusterFlags } from "./cluster/index.js";
import { webSignInLink } from "./web/web-sign-in-link.js";
import { AuditLog, actorOf } from "./services/audit-log.js";
import {
  DEFAULT_IDLE_CONNECTION_MS,
  DEFAULT_PORT,
  defaultServerConfig,
  OFFLINE_AFTER_HEARTBEATS,
  EPHEMERAL_GRACE_MS,
  OPEN_TIMEOUT_MS,
  parseListen,
  SESSION_IDLE_TIMEOUT_MS,
  TERMINAL_IDLE_TIMEOUT_MS,
  type ServerConfig,
} from "./server-config.js";
import {
  AgentStore,
  AuditStore,
  RevokedTokenStore,
  migrateToLatest,
  openDatabase,
  parseDatabaseUrl,
} from "./store/index.js";

interface CommonFlags {
  dataDir: string;
  db?: string;
  jwtIssuer: string;
  jwtAudience: string;
}

/** Every subcommand takes the same store and token flags as the server, so they act on the same data. */
function withCommonFlags(cmd: Command): Command {
  return cmd
    .option("--data-dir <dir>", "signing secret and default SQLite file", "./data")
    .addOption(
      new Option(
        "--db <url>",
        "sqlite:PATH or mysql://user:pass@host:port/db (default: sqlite:<data-dir>/rmm.sqlite)",
      ).env("RMM_DATABASE_URL"),
    )
    .option("--jwt-issuer <iss>", "issuer of every token", TOKEN_ISSUER_DEFAULT)
    .option("--jwt-audience <aud>", "audience of technician tokens", TECHNICIAN_AUDIENCE_DEFAULT);
}

function commonOverrides(flags: CommonFlags): Partial<ServerConfig> {
  return {
    dataDir: flags.dataDir,
    ...(flags.db ? { databaseUrl: flags.db } : {}),
    issuer: flags.jwtIssuer,
    audience: flags.jwtAudience,
  };
}

function baseConfig(flags: CommonFlags): ServerConfig {
  return defaultServerConfig(commonOverrides(flags));
}

function issuerFor(flags: CommonFlags): TokenIssuer {
  const config = baseConfig(flags);
  return new TokenIssuer(loadOrCreateSigningSecret(config.dataDir).secret, config.issuer, config.audience);
}

/** In a worker pool each worker is its own node: the pool's id with the worker's index. */
function withWorkerNodeId<T extends { nodeId: string } | undefined>(config: T, role: ReturnType<typeof poolRole>): T {
  return config && role.type === "worker" ? { ...config, nodeId: workerNodeId(config.nodeId, role.index) } : config;
}

/** The flag form of DEFAULT_MAX_TOKEN_TTL_MS, in hours as the README and the refusal message say it. */
const MAX_TOKEN_TTL_FLAG = `${DEFAULT_MAX_TOKEN_TTL_MS / 3_600_000}h`;

const program = new Command("rmm-server")
  .description("RMM tunnel server: one gRPC stream per agent, technician tunnel API, audited sessions")
  .version(RMM_VERSION)
  .showHelpAfterError();

withCommonFlags(program.command("serve", { isDefault: true }))
  .description("run the server")
  .option("--listen <host:port>", "address to listen on", "127.0.0.1:7443")
  .option("--tls-cert <file>", "PEM certificate (cleartext HTTP/2 when absent)")
  .option("--tls-key <file>", "PEM private key")
  .option("--jwks <file-or-url>", "verify technician tokens with this JWKS instead of the local secret")
  .option(
    "--heartbeat-interval <duration>",
    "how often agents heartbeat",
    formatDuration(DEFAULT_HEARTBEAT_INTERVAL_MS),
  )
  .option(
    "--offline-after <duration>",
    `agent silent this long is offline (default: ${OFFLINE_AFTER_HEARTBEATS} heartbeats)`,
  )
  .option("--open-timeout <duration>", "how long OpenTunnel waits for the agent", formatDuration(OPEN_TIMEOUT_MS))
  .option(
    "--session-idle-timeout <duration>",
    "close a tunnel session with no channel traffic for this long",
    formatDuration(SESSION_IDLE_TIMEOUT_MS),
  )
  .option(
    "--ephemeral-grace <duration>",
    "close a session a command opened once it has had no channel this long",
    formatDuration(EPHEMERAL_GRACE_MS),
  )
  .option("--max-transfer-bytes <size>", "largest file one upload or download may carry (0: no limit)", "4GiB")
  .option(
    "--policy <file>",
    "JSON policy: per role, which commands may run, whether terminals may open and which files may be read or written (default: allow all, with a warning)",
  )
  .option(
    "--metrics-listen <host:port>",
    "serve /metrics, /healthz and /readyz here (unauthenticated; default: off), e.g. 127.0.0.1:9464",
  )
  .option(
    "--terminal-idle-timeout <duration>",
    "close a terminal with no input or output for this long",
    formatDuration(TERMINAL_IDLE_TIMEOUT_MS),
  )
  .option(
    "--max-token-ttl <duration>",
    "refuse technician tokens that live longer than this (exp - iat)",
    MAX_TOKEN_TTL_FLAG,
  )
  .option(
    "--idle-connection-timeout <duration>",
    "close a connection with no open stream after this long",
    formatDuration(DEFAULT_IDLE_CONNECTION_MS),
  )
  .option("--no-terminal-recording", "do not record terminals (asciicast v2 files under <data-dir>/recordings)")
  .option(
    "--no-fast-path",
    "serve every call through connect-node, not the binary gRPC fast path (which uses connect's @private functions)",
  )
  .option(
    "--cluster <nats-urls>",
    "run as one node of a cluster: NATS server URL(s), comma-separated (nats://HOST:4222); needs --db mysql://",
  )
  .option("--node-id <id>", "this node's id (default: one kept in <data-dir>/node-id); unique per node")
  .option("--nats-creds <file>", "NATS credentials file (.creds) for --cluster")
  .option("--nats-tls-ca <file>", "PEM CA that signed the NATS server's certificate")
  .option("--nats-tls-cert <file>", "PEM client certificate for NATS (with --nats-tls-key)")
  .option("--nats-tls-key <file>", "PEM client key for NATS")
  .option("--cluster-lease <duration>", "a node silent this long is dead and its sessions are closed (default: 6s)")
  .option(
    "--workers <n>",
    "run n node processes on this one port (Node's cluster module), each its own cluster node <node-id>-1..n; needs --cluster",
    "1",
  )
  .option(
    "--signing-secret-file <file>",
    "the token signing secret (default: <data-dir>/jwt-secret.key); nodes share one",
  )
  .addHelpText(
    "after",
    "\nExample:\n  rmm-server serve --listen 0.0.0.0:7443 --db mysql://rmm:secret@db:3306/rmm --tls-cert cert.pem --tls-key key.pem",
  )
  .action(
    async (
      flags: CommonFlags & {
        listen: string;
        tlsCert?: string;
        tlsKey?: string;
        jwks?: string;
        heartbeatInterval: string;
        offlineAfter?: string;
        openTimeout: string;
        sessionIdleTimeout: string;
        ephemeralGrace: string;
        policy?: string;
        terminalIdleTimeout: string;
        terminalRecording: boolean;
        fastPath: boolean;
        maxTransferBytes: string;
        metricsListen?: string;
        maxTokenTtl: string;
        idleConnectionTimeout: string;
        signingSecretFile?: string;
        workers: string;
      } & ClusterFlags,
    ) => {
      const workers = Number(flags.workers);
      if (!Number.isInteger(workers) || workers < 1 || workers > 64)
        throw new Error(`--workers "${flags.workers}" must be a whole number from 1 to 64`);
      if (workers > 1 && !flags.cluster) throw new Error("--workers needs --cluster: each worker is a cluster node");
      const role = poolRole(workers);
      if (role.type === "primary") return runWorkerPool(workers, createLogger("rmm-server"));
      if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined))
        throw new Error("--tls-cert and --tls-key go together");
      const config = defaultServerConfig({
        ...commonOverrides(flags),
        ...parseListen(flags.listen),
        tls: flags.tlsCert && flags.tlsKey ? { certPath: flags.tlsCert, keyPath: flags.tlsKey } : undefined,
        jwks: flags.jwks,
        heartbeatIntervalMs: parseDuration(flags.heartbeatInterval, "--heartbeat-interval"),
        // Absent, the default (a number of heartbeats) follows --heartbeat-interval.
        ...(flags.offlineAfter ? { offlineAfterMs: parseDuration(flags.offlineAfter, "--offline-after") } : {}),
        openTimeoutMs: parseDuration(flags.openTimeout, "--open-timeout"),
        sessionIdleTimeoutMs: parseDuration(flags.sessionIdleTimeout, "--session-idle-timeout"),
        ephemeralGraceMs: parseDuration(flags.ephemeralGrace, "--ephemeral-grace"),
        policyFile: flags.policy,
        terminalIdleTimeoutMs: parseDuration(flags.terminalIdleTimeout, "--terminal-idle-timeout"),
        terminalRecording: flags.terminalRecording,
        fastPath: flags.fastPath,
        maxTransferBytes: parseByteSize(flags.maxTransferBytes, "--max-transfer-bytes"),
        metricsListen: flags.metricsListen
          ? parseListen(flags.metricsListen, "--metrics-listen", "127.0.0.1:9464")
          : undefined,
        maxTokenTtlMs: parseDuration(flags.maxTokenTtl, "--max-token-ttl"),
        idleConnectionMs: parseDuration(flags.idleConnectionTimeout, "--idle-connection-timeout"),
        cluster: withWorkerNodeId(clusterConfigFromFlags(flags, flags.dataDir), role),
        signingSecretFile: flags.signingSecretFile,
      });
      const log = createLogger("rmm-server");
      // Before listening: a harness may signal as soon as it reads "listening", and an unhandled SIGUSR2 kills the process.
      reportMemoryOnSignal(log);
      const tracing = await tracingFromEnvironment(process.env, "rmm-server");
      if (tracing) log.info("tracing every RPC to the OTLP endpoint in OTEL_EXPORTER_OTLP_ENDPOINT");
      const server = await startServer(config, log, tracing ? { tracer: tracing.tracer } : {});
      for (const signal of ["SIGINT", "SIGTERM"] as const) {
        process.once(signal, () => {
          log.info({ signal }, "shutting down");
          void server
            .close()
            .then(() => tracing?.shutdown())
            .then(() => process.exit(0));
        });
      }
    },
  );

withCommonFlags(program.command("token"))
  .description("print a technician token signed with this server's key")
  .requiredOption("--sub <name>", "who the token is for")
  .addOption(new Option("--role <role>", "role").choices(ROLES).default("tech"))
  .option("--ttl <duration>", "lifetime", "1h")
  .option(
    "--max-token-ttl <duration>",
    "the server's --max-token-ttl: longer tokens are refused, so none is minted",
    MAX_TOKEN_TTL_FLAG,
  )
  .option(
    "--web [base-url]",
    "print a web console sign-in link instead (the page drops the token from the address bar)",
  )
  .addHelpText(
    "after",
    "\nExamples:\n  export RMM_TOKEN=$(rmm-server token --sub alice --role admin --ttl 8h)\n" +
      `  rmm-server token --sub alice --web https://rmm.example.com:${DEFAULT_PORT}`,
  )
  .action(
    async (flags: CommonFlags & { sub: string; role: Role; ttl: string; maxTokenTtl: string; web?: string | true }) => {
      const ttlMs = parseDuration(flags.ttl, "--ttl");
      if (ttlMs > parseDuration(flags.maxTokenTtl, "--max-token-ttl"))
        throw new Error(
          `--ttl ${flags.ttl} is longer than --max-token-ttl ${flags.maxTokenTtl}: the server would refuse the token`,
        );
      if (flags.sub.trim() === "") throw new Error("--sub must name someone");
      const ttlSeconds = Math.ceil(ttlMs / 1000);
      const token = await issuerFor(flags).mintTechnician(flags.sub, flags.role, ttlSeconds);
      if (flags.web === undefined) return void process.stdout.write(token + "\n");
      const base = flags.web === true ? `http://127.0.0.1:${DEFAULT_PORT}` : flags.web;
      process.stdout.write(`${webSignInLink(base, token)}\n`);
    },
  );

withCommonFlags(program.command("enroll-token"))
  .description("print an enrollment token agents exchange for their own credential (reusable until it expires)")
  .option("--ttl <duration>", "lifetime", "24h")
  .action(async (flags: CommonFlags & { ttl: string }) => {
    const ttlSeconds = Math.ceil(parseDuration(flags.ttl, "--ttl") / 1000);
    process.stdout.write((await issuerFor(flags).mintEnrollment(ttlSeconds)) + "\n");
  });

withCommonFlags(program.command("migrate"))
  .description("bring the database schema up to date (the server also does this at start)")
  .action(async (flags: CommonFlags) => {
    const db = openDatabase(parseDatabaseUrl(baseConfig(flags).databaseUrl));
    try {
      const { applied } = await migrateToLatest(db);
      process.stdout.write(applied.length > 0 ? `applied: ${applied.join(", ")}\n` : "schema is up to date\n");
    } finally {
      await db.destroy();
    }
  });

withCommonFlags(program.command("revoke-agent"))
  .description("revoke an agent's credential; a connected agent is cut off within a few seconds")
  .argument("<agent-id>", "the agent to revoke")
  .action(async (agentId: string, flags: CommonFlags) => {
    const db = openDatabase(parseDatabaseUrl(baseConfig(flags).databaseUrl));
    try {
      await migrateToLatest(db);
      if (!(await new AgentStore(db).revoke(agentId, Date.now()))) throw new Error(`agent ${agentId} is not enrolled`);
      await new AuditLog(new AuditStore(db), createLogger("rmm-server")).record({
        actor: actorOf.system,
        action: "agent.revoke",
        outcome: "ok",
        agentId,
        reason: `rmm-server revoke-agent run by ${userInfo().username}`,
      });
      process.stdout.write(`revoked ${agentId}\n`);
    } finally {
      await db.destroy();
    }
  });

withCommonFlags(program.command("revoke-token"))
  .description(
    "revoke technician tokens: one by its jti, or every token of a subject issued before a time; running servers refuse them within 10 s",
  )
  .option("--jti <id>", "the token's jti claim")
  .option("--sub <name>", "revoke every token of this subject issued before --before")
  .option("--before <time>", "with --sub: an ISO 8601 time (default: now)")
  .option("--reason <text>", "kept in the audit trail")
  .addHelpText(
    "after",
    "\nExamples:\n  rmm-server revoke-token --jti 0b9f...\n  rmm-server revoke-token --sub alice --reason 'laptop stolen'",
  )
  .action(async (flags: CommonFlags & { jti?: string; sub?: string; before?: string; reason?: string }) => {
    if ((flags.jti === undefined) === (flags.sub === undefined)) throw new Error("give one of --jti or --sub");
    if (flags.before !== undefined && flags.sub === undefined) throw new Error("--before goes with --sub");
    const before = flags.before === undefined ? Date.now() : Date.parse(flags.before);
    if (Number.isNaN(before))
      throw new Error(`--before "${flags.before}" is not an ISO 8601 time, e.g. 2026-12-01T12:00:00Z`);
    const db = openDatabase(parseDatabaseUrl(baseConfig(flags).databaseUrl));
    try {
      await migrateToLatest(db);
      const by = userInfo().username;
      const now = Date.now();
      await new RevokedTokenStore(db).add({
        revoked_at: now,
        jti: flags.jti ?? null,
        subject: flags.sub ?? null,
        issued_before: flags.sub === undefined ? null : before,
        revoked_by: by,
        reason: flags.reason ?? null,
      });
      const what =
        flags.jti !== undefined
          ? `token ${flags.jti}`
          : `tokens of ${flags.sub} issued before ${new Date(before).toISOString()}`;
      await new AuditLog(new AuditStore(db), createLogger("rmm-server")).record({
        actor: actorOf.system,
        action: "token.revoke",
        outcome: "ok",
        reason: `${what} revoked by ${by}${flags.reason ? `: ${flags.reason}` : ""}`,
      });
      process.stdout.write(`revoked ${what}\n`);
    } finally {
      await db.destroy();
    }
  });

/**
 * For benchmarks: with `node --expose-gc`, SIGUSR2 collects garbage and logs
 * the process's memory, so per-agent cost can be measured after GC.
 */
function reportMemoryOnSignal(log: ReturnType<typeof createLogger>): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return;
  process.on("SIGUSR2", () => {
    gc();
    const { rss, heapUsed } = process.memoryUsage();
    log.info({ rss, heapUsed }, "memory after gc");
  });
}

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`rmm-server: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
