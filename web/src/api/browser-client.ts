import type { DescMessage, DescMethodStreaming, MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { JobService } from "../../../gen/rmm/v1/job_service_pb.js";
import { TunnelService } from "../../../gen/rmm/v1/tunnel_service_pb.js";
import { bridgeStream } from "./bridge-stream.js";

export type TunnelClient = Client<typeof TunnelService>;
export type JobClient = Client<typeof JobService>;

/** The two services the console calls, over one transport carrying one token. */
export interface BrowserClients {
  tunnel: TunnelClient;
  jobs: JobClient;
}

/**
 * The CLI's TunnelService and JobService clients for a browser: unary and server-streaming
 * calls use the Connect protocol over fetch; client-streaming and bidi calls
 * (terminals, uploads) go over the WebSocket bridge. Every call carries the
 * token; an Unauthenticated answer from any call calls `onUnauthenticated`.
 * `keepalive`: unary calls finish even if the page is being closed.
 */
export function createBrowserClient(
  token: string,
  onUnauthenticated: (reason: string) => void,
  options: { keepalive?: boolean } = {},
): BrowserClients {
  const authorization = `Bearer ${token}`;
  const watch = async <T>(call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (err) {
      const e = ConnectError.from(err);
      if (e.code === Code.Unauthenticated) onUnauthenticated(e.rawMessage);
      throw e;
    }
  };
  const auth: Interceptor = (next) => (req) => {
    req.header.set("authorization", authorization);
    return watch(() => next(req));
  };
  const http = createConnectTransport({
    baseUrl: location.origin,
    useBinaryFormat: true,
    interceptors: [auth],
    // keepalive: the request outlives the page (closing a session as the tab closes).
    ...(options.keepalive && { fetch: (input, init) => fetch(input, { ...init, keepalive: true }) }),
  });
  const transport: Transport = {
    unary: (...args) => http.unary(...args),
    stream: <I extends DescMessage, O extends DescMessage>(
      method: DescMethodStreaming<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeadersInit | undefined,
      input: AsyncIterable<MessageInitShape<I>>,
    ) => {
      if (method.methodKind === "server_streaming") return http.stream(method, signal, timeoutMs, header, input);
      const headers = new Headers(header);
      headers.set("authorization", authorization);
      return watch(() => bridgeStream(method, signal, headers, input));
    },
  };
  return { tunnel: createClient(TunnelService, transport), jobs: createClient(JobService, transport) };
}

/** A call's error as one line for a person. */
export function describeError(err: unknown): string {
  const e = ConnectError.from(err);
  return `${Code[e.code] ?? "error"}: ${e.rawMessage}`;
}
