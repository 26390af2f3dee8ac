import { createRouterTransport, type ConnectRouter, type Interceptor, type Transport } from "@connectrpc/connect";

/**
 * A transport to this server's own routes that never leaves the process,
 * through the same interceptors as calls from the network (auth, MCP access,
 * error mapping), so `/mcp` tools are held to exactly what the API enforces.
 * Each call sends `headers()` (the technician's token and the via marker).
 */
export function inProcessTransport(
  routes: (router: ConnectRouter) => void,
  opts: { interceptors: Interceptor[]; maxMessageBytes: number },
): (headers: () => Record<string, string>) => Transport {
  return (headers) =>
    createRouterTransport(routes, {
      router: {
        interceptors: opts.interceptors,
        readMaxBytes: opts.maxMessageBytes,
        writeMaxBytes: opts.maxMessageBytes,
      },
      transport: {
        interceptors: [
          (next) => (req) => {
            for (const [name, value] of Object.entries(headers())) req.header.set(name, value);
            return next(req);
          },
        ],
      },
    });
}
