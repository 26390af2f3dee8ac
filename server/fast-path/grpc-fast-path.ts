import type { Http2ServerRequest, Http2ServerResponse, IncomingHttpHeaders } from "node:http2";
import type { Message } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createContextValues,
  createHandlerContext,
  type ContextValues,
  type Interceptor,
  type MethodImplSpec,
  type ServiceImplSpec,
} from "@connectrpc/connect";
import {
  createMethodSerializationLookup,
  encodeEnvelope,
  invokeUnaryImplementation,
  transformInvokeImplementation,
  type Serialization,
} from "@connectrpc/connect/protocol";
import { grpcStatusOk, parseContentType, parseTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { dataMessageEncoder, type DataMessageEncoder } from "../../common/data-message-encoder.js";
import { asCallError } from "./call-error.js";
import { ENVELOPE_HEADER_BYTES } from "./envelope-decoder.js";
import { inboundMessages, singleMessage } from "./request-messages.js";
import { ResponseWriter } from "./response-writer.js";

export interface GrpcFastPathOptions {
  /** Services whose methods take the fast path (`createServiceImplSpec` of the implementation connect serves). */
  services: readonly ServiceImplSpec[];
  /** The interceptors connect applies, in the same order. */
  interceptors: readonly Interceptor[];
  readMaxBytes: number;
  writeMaxBytes: number;
  /** Context values for each call, as connect-node's `contextValues` option gives them. Defaults to none. */
  contextValues?: (req: Http2ServerRequest) => ContextValues;
}

/** Takes a request if it can (true), or leaves it untouched for connect (false). */
export type FastPathHandler = (req: Http2ServerRequest, res: Http2ServerResponse) => boolean;

interface Route {
  spec: MethodImplSpec;
  io: { input: Serialization<Message>; output: Serialization<Message> };
  /** The single-copy writer for responses that carry channel data (agent streams, channels). */
  data: DataMessageEncoder<unknown> | undefined;
  writeMaxBytes: number;
}

/** Node gives request header names in lower case (connect's constants are capitalised for fetch Headers). */
const CONTENT_TYPE = "content-type";
const GRPC_ENCODING = "grpc-encoding";
const GRPC_TIMEOUT = "grpc-timeout";
const GRPC_STATUS = "grpc-status";
/** What a finished call aborts its context with: a plain value, so no DOMException is built per call. */
const CALL_FINISHED = new ConnectError("call finished", Code.Canceled);

/**
 * Binary gRPC calls (the agents' streams, the technicians' channels and
 * unary calls) served straight from Node's HTTP/2 request with connect's own
 * pieces: its handler context, interceptors and implementation invoker, its
 * serialization limits, timeout parsing and trailer status. What it leaves
 * out is connect-node's general pipeline (URL and fetch Headers conversion,
 * linked abort controllers, a chain of async generators every message
 * passes through, a DOMException for every finished call), which cost more
 * CPU than most of these calls' own work on the 2-core bench machine.
 * Everything else (the Connect and gRPC-Web protocols, JSON, compression,
 * unknown paths) is left to connect.
 */
export function grpcFastPath(opts: GrpcFastPathOptions): FastPathHandler {
  const routes = new Map<string, Route>();
  const limits = { readMaxBytes: opts.readMaxBytes, writeMaxBytes: opts.writeMaxBytes };
  for (const { service, methods } of opts.services) {
    for (const spec of Object.values(methods)) {
      const serialization = createMethodSerializationLookup(spec.method, undefined, undefined, limits);
      routes.set(`/${service.typeName}/${spec.method.name}`, {
        spec,
        io: { input: serialization.getI(true), output: serialization.getO(true) },
        data: spec.kind === "unary" ? undefined : dataMessageEncoder(spec.method.output),
        writeMaxBytes: opts.writeMaxBytes,
      });
    }
  }
  const interceptors = [...opts.interceptors];

  return (req, res) => {
    const route = req.method === "POST" ? routes.get(req.headers[":path"] ?? "") : undefined;
    if (!route || !parseContentType(headerValue(req.headers[CONTENT_TYPE]))?.binary) return false;
    // Compressed requests (never sent by our clients: the server accepts none) get connect's answer.
    const encoding = req.headers[GRPC_ENCODING];
    if (encoding !== undefined && encoding !== "identity") return false;
    void serve(route, req, res, interceptors, opts.readMaxBytes, opts.contextValues?.(req) ?? createContextValues());
    return true;
  };
}

async function serve(
  route: Route,
  req: Http2ServerRequest,
  res: Http2ServerResponse,
  interceptors: Interceptor[],
  readMaxBytes: number,
  contextValues: ContextValues,
): Promise<void> {
  const cancel = new AbortController();
  const onClose = () => cancel.abort(new ConnectError("the caller cancelled the call", Code.Canceled));
  req.once("close", onClose);
  const timeout = parseTimeout(headerValue(req.headers[GRPC_TIMEOUT]), Number.MAX_SAFE_INTEGER);
  const context = createHandlerContext({
    ...route.spec,
    service: route.spec.method.parent,
    requestMethod: "POST",
    protocolName: "grpc",
    timeoutMs: timeout.timeoutMs,
    shutdownSignal: undefined,
    requestSignal: cancel.signal,
    requestHeader: requestHeaders(req.headers),
    url: `http://${req.headers[":authority"] ?? "localhost"}${req.headers[":path"] ?? ""}`,
    responseHeader: { [CONTENT_TYPE]: "application/grpc+proto" },
    responseTrailer: { [GRPC_STATUS]: grpcStatusOk },
    contextValues,
  });
  const out = new ResponseWriter(res, context);
  try {
    if (timeout.error) throw timeout.error;
    const input = inboundMessages(req, route.io.input, readMaxBytes, context.signal);
    if (route.spec.kind === "unary") {
      const output = await invokeUnaryImplementation(route.spec, context, await singleMessage(input), interceptors);
      await out.send(enveloped(route, output));
    } else {
      const output = transformInvokeImplementation(route.spec, context, interceptors)(input)[Symbol.asyncIterator]();
      try {
        for (let next = await output.next(); !next.done; next = await output.next()) {
          // A caller gone mid-stream: stop asking the handler for more.
          if (!(await out.send(enveloped(route, next.value as Message)))) break;
        }
      } finally {
        await output.return?.();
      }
    }
  } catch (err) {
    setTrailerStatus(context.responseTrailer, asCallError(err));
  } finally {
    context.abort(CALL_FINISHED);
    req.off("close", onClose);
  }
  out.finish();
}

/** One response message in its gRPC envelope, checked against writeMaxBytes as connect checks it. */
function enveloped(route: Route, message: Message): Uint8Array {
  const bytes = route.data?.(message, ENVELOPE_HEADER_BYTES);
  if (!bytes) return encodeEnvelope(0, route.io.output.serialize(message));
  const length = bytes.length - ENVELOPE_HEADER_BYTES;
  if (length > route.writeMaxBytes)
    throw new ConnectError(
      `message size ${length} is larger than configured writeMaxBytes ${route.writeMaxBytes}`,
      Code.ResourceExhausted,
    );
  // Flags 0 (not compressed), then the length, big-endian.
  new DataView(bytes.buffer, bytes.byteOffset, ENVELOPE_HEADER_BYTES).setUint32(1, length);
  return bytes;
}

function headerValue(value: string | string[] | undefined): string | null {
  return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
}

function requestHeaders(headers: IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const [key, value] of Object.entries(headers)) {
    if (key.startsWith(":") || value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) out.append(key, v);
    else out.set(key, value);
  }
  return out;
}
