import type * as http from "node:http";
import type * as http2 from "node:http2";

/** Where MCP's Streamable HTTP endpoint lives on the server's one port. */
export const MCP_PATH = "/mcp";
/** RFC 9728 protected-resource metadata for MCP_PATH: the well-known prefix, then the resource's path. */
export const RESOURCE_METADATA_PATH = `/.well-known/oauth-protected-resource${MCP_PATH}`;

export type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;
/** As connect-node types it (its `write` differs between the two), so one handler takes both. */
export type NodeResponse = Omit<http.ServerResponse, "write"> | Omit<http2.Http2ServerResponse, "write">;

/** The server's origin as the client addressed it (HTTP/1.1 Host, HTTP/2 :authority). */
export function originOf(req: NodeRequest, tls: boolean): string {
  const host = req.headers[":authority"] ?? req.headers.host ?? "localhost";
  return `${tls ? "https" : "http"}://${Array.isArray(host) ? host[0] : host}`;
}

/**
 * RFC 9728 metadata: what the resource is and that it takes bearer tokens in
 * the Authorization header. No authorization server is named: technician
 * tokens come from `rmm-server token` or the identity provider behind `--jwks`.
 */
export function resourceMetadata(origin: string): Record<string, unknown> {
  return {
    resource: `${origin}${MCP_PATH}`,
    bearer_methods_supported: ["header"],
    resource_name: "rmm-server MCP",
  };
}

/** RFC 6750 challenge with the RFC 9728 pointer; no error attribute when no token was sent at all. */
export function bearerChallenge(origin: string, error?: { code: string; description: string }): string {
  const parts = [
    ...(error ? [`error="${error.code}"`, `error_description="${error.description.replace(/["\\]/g, "'")}"`] : []),
    `resource_metadata="${origin}${RESOURCE_METADATA_PATH}"`,
  ];
  return `Bearer ${parts.join(", ")}`;
}

export function sendJson(res: NodeResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}
