import { randomUUID } from "node:crypto";
import { Code, ConnectError, type Transport } from "@connectrpc/connect";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { Logger } from "../../common/logger.js";
import { createRmmMcpServer, type RmmMcp } from "../../mcp/index.js";
import type { Technician } from "../auth/claims.js";
import type { TechnicianVerifier } from "../auth/technician-verifier.js";
import type { CommandPolicy } from "../policy/command-policy.js";
import { actorOf, type AuditLog } from "../services/audit-log.js";
import {
  bearerChallenge,
  MCP_PATH,
  originOf,
  RESOURCE_METADATA_PATH,
  resourceMetadata,
  sendJson,
  type NodeRequest,
  type NodeResponse,
} from "./protected-resource.js";

/** An MCP session nobody has sent a request for in this long is closed. Defaults to 30 min. */
export const MCP_SESSION_IDLE_MS = 30 * 60_000;
/** MCP sessions one technician may hold at once. Defaults to 16: each can hold tunnel sessions and running commands. */
export const MAX_MCP_SESSIONS_PER_TECHNICIAN = 16;
/** Largest MCP request body. Defaults to 16 MiB: write_file's 8 MiB limit, base64-encoded, inside JSON-RPC. */
export const MAX_MCP_REQUEST_BYTES = 16 << 20;

export interface McpHttpDeps {
  verifyTechnician: TechnicianVerifier;
  policy: CommandPolicy;
  audit: AuditLog;
  /** An in-process transport to this server's own TunnelService and JobService (every interceptor included), sending `headers()` on each call. */
  transport(headers: () => Record<string, string>): Transport;
  tls: boolean;
  log: Logger;
  idleMs?: number;
}

interface McpSession {
  subject: string;
  /** The newest token the technician sent for this session; calls use it, so a refreshed token takes over. */
  authorization: string;
  transport: StreamableHTTPServerTransport;
  mcp: RmmMcp;
  lastUsed: number;
}

export interface McpHttpHandler {
  /** Whether the request is for `/mcp` or its metadata. */
  matches(req: NodeRequest): boolean;
  handle(req: NodeRequest, res: NodeResponse): void;
  /** Closes every MCP session (cancelling their commands and letting go of their tunnel sessions). */
  close(): Promise<void>;
}

/**
 * MCP over Streamable HTTP at `/mcp`: the bearer technician token is verified
 * exactly as the gRPC API verifies it (401 with an RFC 9728 pointer when
 * missing or bad; 403 for a role without MCP access), and each MCP session
 * runs the same tools as `rmm mcp` against this server's own TunnelService and JobService,
 * so the same interceptors, policy and audit apply to every tool call.
 */
export function mcpHttpHandler(deps: McpHttpDeps): McpHttpHandler {
  const sessions = new Map<string, McpSession>();
  const idleMs = deps.idleMs ?? MCP_SESSION_IDLE_MS;
  const sweep = setInterval(
    () => {
      const now = Date.now();
      for (const [id, s] of sessions) if (now - s.lastUsed > idleMs) void end(id, "idle");
    },
    Math.min(60_000, Math.max(100, Math.floor(idleMs / 4))),
  );
  sweep.unref();

  const end = async (id: string, why: string) => {
    const s = sessions.get(id);
    if (!s) return;
    sessions.delete(id);
    deps.log.info({ mcpSession: id, technician: s.subject, why }, "MCP session ended");
    await s.mcp.close().catch((err: unknown) => deps.log.warn({ err, mcpSession: id }, "MCP session close failed"));
  };

  const authenticate = async (req: NodeRequest, res: NodeResponse): Promise<Technician | undefined> => {
    const origin = originOf(req, deps.tls);
    const header = req.headers.authorization;
    try {
      return await deps.verifyTechnician(header ?? null);
    } catch (err) {
      const e = ConnectError.from(err);
      if (e.code === Code.PermissionDenied) {
        sendJson(res, 403, { error: "insufficient_scope", error_description: e.rawMessage });
        return undefined;
      }
      const challenge = header
        ? bearerChallenge(origin, { code: "invalid_token", description: e.rawMessage })
        : bearerChallenge(origin);
      sendJson(
        res,
        401,
        { error: header ? "invalid_token" : "unauthorized", error_description: e.rawMessage },
        { "www-authenticate": challenge },
      );
      return undefined;
    }
  };

  const open = (tech: Technician, authorization: string): McpSession => {
    const access = deps.policy.mcpAccess(tech.role) === "full" ? "full" : "read-only";
    let session!: McpSession;
    const mcp = createRmmMcpServer({
      connect: (headers) => deps.transport(() => ({ ...headers(), authorization: session.authorization })),
      access,
    });
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        sessions.set(id, session);
        deps.log.info({ mcpSession: id, technician: tech.subject, access }, "MCP session started");
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) void end(transport.sessionId, "closed by the client");
    };
    session = { subject: tech.subject, authorization, transport, mcp, lastUsed: Date.now() };
    return session;
  };

  const serve = async (req: NodeRequest, res: NodeResponse): Promise<void> => {
    const tech = await authenticate(req, res);
    if (!tech) return;
    if (deps.policy.mcpAccess(tech.role) === "none") {
      const reason = `role ${tech.role} has no MCP access (policy roles.${tech.role}.mcp is false)`;
      await deps.audit.recordBestEffort({
        actor: actorOf.technician(tech.subject),
        action: "mcp.refused",
        outcome: "refused",
        reason: `${req.method} ${MCP_PATH}: ${reason}`,
        via: "mcp/http",
      });
      sendJson(res, 403, { error: "insufficient_scope", error_description: reason });
      return;
    }
    const length = Number(req.headers["content-length"] ?? 0);
    if (length > MAX_MCP_REQUEST_BYTES) {
      sendJson(res, 413, {
        error: "request_too_large",
        error_description: `the request body is ${length} bytes, over the limit of ${MAX_MCP_REQUEST_BYTES}`,
      });
      return;
    }
    const authorization = req.headers.authorization!;
    const id = req.headers["mcp-session-id"];
    if (typeof id === "string" && id !== "") {
      const s = sessions.get(id);
      if (!s) {
        sendJson(res, 404, {
          jsonrpc: "2.0",
          error: {
            code: -32001,
            message: `no MCP session ${id.slice(0, 64)} (it ended or idled out): initialize again`,
          },
          id: null,
        });
        return;
      }
      if (s.subject !== tech.subject) {
        sendJson(res, 403, {
          error: "insufficient_scope",
          error_description: "this MCP session is another technician's",
        });
        return;
      }
      s.authorization = authorization;
      s.lastUsed = Date.now();
      await s.transport.handleRequest(req as never, res as never);
      return;
    }
    const mine = [...sessions.values()].filter((s) => s.subject === tech.subject).length;
    if (mine >= MAX_MCP_SESSIONS_PER_TECHNICIAN) {
      sendJson(res, 429, {
        error: "too_many_sessions",
        error_description: `${mine} MCP sessions are open for ${tech.subject} (the limit is ${MAX_MCP_SESSIONS_PER_TECHNICIAN}): end one (HTTP DELETE) or wait for one to idle out`,
      });
      return;
    }
    const s = open(tech, authorization);
    await s.mcp.server.connect(s.transport);
    await s.transport.handleRequest(req as never, res as never);
    // Not an initialize request: the transport answered with an error and no session began.
    if (!s.transport.sessionId) await s.mcp.close();
  };

  return {
    matches: (req) => {
      const path = (req.url ?? "").split("?")[0];
      return path === MCP_PATH || path === RESOURCE_METADATA_PATH;
    },
    handle: (req, res) => {
      const path = (req.url ?? "").split("?")[0];
      if (path === RESOURCE_METADATA_PATH) {
        sendJson(res, 200, resourceMetadata(originOf(req, deps.tls)));
        return;
      }
      serve(req, res).catch((err: unknown) => {
        const incident = randomUUID();
        deps.log.error({ err, incident }, "MCP request failed");
        if (!res.headersSent) sendJson(res, 500, { error: "server_error", error_description: `incident ${incident}` });
        else res.end();
      });
    },
    close: async () => {
      clearInterval(sweep);
      await Promise.allSettled([...sessions.keys()].map((id) => end(id, "server shutting down")));
    },
  };
}
