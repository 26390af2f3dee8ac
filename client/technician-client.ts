import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { TunnelService } from "../gen/rmm/v1/tunnel_service_pb.js";

/**
 * A TunnelService client that sends `authorization: Bearer <token>` on every
 * call, speaking gRPC over HTTP/2 to `baseUrl` (e.g. http://127.0.0.1:7443).
 */
export function createTechnicianClient(baseUrl: string, token: string): Client<typeof TunnelService> {
  return createClient(
    TunnelService,
    createGrpcTransport({
      baseUrl,
      interceptors: [
        (next) => (req) => {
          req.header.set("authorization", `Bearer ${token}`);
          return next(req);
        },
      ],
    }),
  );
}
