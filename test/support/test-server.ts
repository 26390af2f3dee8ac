import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createTechnicianClient } from "../../client/technician-client.js";
import { createLogger } from "../../common/logger.js";
import { AgentService } from "../../gen/rmm/v1/agent_service_pb.js";
import { TunnelService } from "../../gen/rmm/v1/tunnel_service_pb.js";
import type { Role } from "../../server/auth/claims.js";
import { startServer, type RunningServer } from "../../server/rmm-server.js";
import { defaultServerConfig, type ServerConfig } from "../../server/server-config.js";

export interface TestServer {
  server: RunningServer;
  config: ServerConfig;
  url: string;
  /** A technician client (connect-node, gRPC protocol over HTTP/2) with a fresh token. */
  technician(subject: string, role?: Role): Promise<Client<typeof TunnelService>>;
  agentClient(): Client<typeof AgentService>;
  /** Stops the server; the data dir survives so a restart sees the same store. */
  stop(): Promise<void>;
  /** Starts it again on the same port and store. */
  restart(): Promise<void>;
  /** Stops it and removes its data dir (the database is the caller's to drop). */
  dispose(): Promise<void>;
}

/** A real server on a 127.0.0.1 port with fast timers, so tests wait milliseconds, not the production seconds. */
export async function startTestServer(databaseUrl: string, overrides: Partial<ServerConfig> = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), "rmm-server-"));
  let config = defaultServerConfig({
    dataDir,
    databaseUrl,
    port: 0,
    heartbeatIntervalMs: 200,
    offlineAfterMs: 1_000,
    openTimeoutMs: 1_000,
    helloTimeoutMs: 1_000,
    lastSeenFlushMs: 100,
    shutdownGraceMs: 100,
    revocationRefreshMs: 100,
    ...overrides,
  });
  const log = createLogger("test-server", process.env.RMM_LOG_LEVEL ?? "silent");
  let server = await startServer(config, log);
  let running = true;
  config = { ...config, port: server.port };
  const transport = () => createGrpcTransport({ baseUrl: server.url });
  const handle: TestServer = {
    get server() {
      return server;
    },
    config,
    get url() {
      return server.url;
    },
    async technician(subject, role = "tech") {
      const token = await server.issuer.mintTechnician(subject, role, 3_600);
      return createTechnicianClient(server.url, token);
    },
    agentClient: () => createClient(AgentService, transport()),
    async stop() {
      if (!running) return;
      running = false;
      await server.close();
    },
    async restart() {
      await handle.stop();
      server = await startServer(config, log);
      running = true;
    },
    async dispose() {
      await handle.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return handle;
}
