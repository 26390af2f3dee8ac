import { Code } from "@connectrpc/connect";
import type { ConnectNodeAdapterOptions } from "@connectrpc/connect-node";
import { cutText } from "../common/cut-text.js";

/**
 * What connect-node serves for a path no service has: a bare 404 suits the
 * Connect protocol, but a gRPC or gRPC-Web caller must get a status
 * (UNIMPLEMENTED, as the gRPC protocol says), or its client reports an
 * HTTP error with no code. A trailers-only answer: status in the headers.
 */
export const unknownMethodFallback: NonNullable<ConnectNodeAdapterOptions["fallback"]> = (req, res) => {
  const contentType = req.headers["content-type"] ?? "";
  if (!contentType.startsWith("application/grpc")) {
    res.writeHead(404);
    res.end();
    return;
  }
  const path = cutText(req.url ?? "", 200);
  const message = `no method ${path} on this server: see grpc.reflection.v1.ServerReflection for the ones there are`;
  res.writeHead(200, {
    "content-type": contentType,
    "grpc-status": String(Code.Unimplemented),
    "grpc-message": encodeURIComponent(message),
  });
  res.end();
};
