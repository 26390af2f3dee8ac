import { readFileSync } from "node:fs";
import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { TunnelService } from "../gen/rmm/v1/tunnel_service_pb.js";
import { STREAM_RECEIVE_WINDOW_BYTES, WideWindowSessionManager } from "./wide-window-session-manager.js";

/** HTTP/2 stream receive window for technician calls. Defaults to 1 MiB. */
export const RECEIVE_WINDOW_BYTES = STREAM_RECEIVE_WINDOW_BYTES;

export interface TechnicianClientOptions {
  /** PEM CA that signs an https:// server's certificate; the system roots when absent. */
  caFile?: string;
  /** Asked on every call for more headers to send (the `x-rmm-via` marker). */
  headers?: () => Record<string, string>;
}

/**
 * gRPC over HTTP/2 to `baseUrl` (e.g. http://127.0.0.1:7443) sending
 * `authorization: Bearer <token>` on every call; `caFile` trusts a private CA
 * for https:// servers; `headers`, when given, is asked on every call for more
 * headers to send (the `x-rmm-via` marker). One transport serves TunnelService
 * and JobService clients over one connection.
 */
export function createTechnicianTransport(
  baseUrl: string,
  token: string,
  options: TechnicianClientOptions = {},
): Transport {
  // Wide stream and connection windows: the 64 KiB HTTP/2 defaults would cap
  // channel data at one window per round trip.
  const sessionManager = new WideWindowSessionManager(
    baseUrl,
    undefined,
    options.caFile ? { ca: readFileSync(options.caFile) } : {},
  );
  return createGrpcTransport({
    baseUrl,
    sessionManager,
    // Tunnel data is mostly compressed already; compressing it again costs more CPU than it saves.
    acceptCompression: [],
    interceptors: [
      (next) => (req) => {
        req.header.set("authorization", `Bearer ${token}`);
        for (const [name, value] of Object.entries(options.headers?.() ?? {})) req.header.set(name, value);
        return next(req);
      },
    ],
  });
}

/** A TunnelService client (see createTechnicianTransport). */
export function createTechnicianClient(
  baseUrl: string,
  token: string,
  options: TechnicianClientOptions = {},
): Client<typeof TunnelService> {
  return createClient(TunnelService, createTechnicianTransport(baseUrl, token, options));
}
