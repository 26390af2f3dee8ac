import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type { Socket } from "node:net";
import type { Message } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createContextValues,
  type ContextValues,
  type Interceptor,
  type MethodImplSpec,
  type ServiceImplSpec,
} from "@connectrpc/connect";
import {
  createMethodSerializationLookup,
  encodeEnvelope,
  invokeUnaryImplementation,
  type Serialization,
} from "@connectrpc/connect/protocol";
import { grpcStatusOk, parseContentType, parseTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { dataMessageEncoder, type DataMessageEncoder } from "../../common/data-message-encoder.js";
import { asCallError } from "./call-error.js";
import { CompactHeaders } from "./compact-headers.js";
import { ENVELOPE_HEADER_BYTES } from "./envelope-decoder.js";
import { FastPathContext } from "./fast-path-context.js";
import { inboundMessages, singleMessage } from "./request-messages.js";
import { ResponseWriter } from "./response-writer.js";
import { invokeStream } from "./stream-invoker.js";

export interface GrpcFastPathOptions {
  /** Services whose methods take the fast path (`createServiceImplSpec` of the implementation connect serves). */
  services: readonly ServiceImplSpec[];
  /** The interceptors connect applies, in the same order. */
  interceptors: readonly Interceptor[];
  readMaxBytes: number;
  writeMaxBytes: number;
  /** Context values for each call from the connection's socket, as connect-node's `contextValues` option gives them. Defaults to none. */
  contextValues?: (socket: Socket | undefined) => ContextValues;
}

/**
 * Takes an HTTP/2 stream if it can (true), or leaves it untouched (false),
 * for Node's compatibility layer to hand to connect as a request.
 */
export type FastPathHandler = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => boolean;

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
 * unary calls) served straight from Node's HTTP/2 stream with connect's own
 * pieces: its handler context, interceptors and implementation invoker, its
 * serialization limits, timeout parsing and trailer status. What it leaves
 * out is connect-node's general pipeline (URL and fetch Headers conversion,
 * linked abort controllers, a chain of async generators every message
 * passes through, a DOMException for every finished call), which cost more
 * CPU than most of these calls' own work on the 2-core bench machine, and
 * the compatibility layer's request and response objects, which an idle
 * agent's stream would otherwise hold for its whole life.
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

  return (stream, headers) => {
    const route = headers[":method"] === "POST" ? routes.get(headers[":path"] ?? "") : undefined;
    if (!route || !parseContentType(headerValue(headers[CONTENT_TYPE]))?.binary) return false;
    // Compressed requests (never sent by our clients: the server accepts none) get connect's answer.
    const encoding = headers[GRPC_ENCODING];
    if (encoding !== undefined && encoding !== "identity") return false;
    // A reset or a broken connection ends the call through "close"; without a listener, its error would end the process.
    stream.on("error", ignore);
    const values = opts.contextValues?.(stream.session?.socket as Socket | undefined) ?? createContextValues();
    const timeout = parseTimeout(headerValue(headers[GRPC_TIMEOUT]), Number.MAX_SAFE_INTEGER);
    // Built here so the call, which lives as long as an agent's stream, does not keep the request's header object.
    // No request signal of our own: a caller gone aborts the context itself.
    const context = new FastPathContext({
      method: route.spec.method,
      authority: headers[":authority"] ?? "localhost",
      path: headers[":path"] ?? "",
      timeoutMs: timeout.timeoutMs,
      requestHeader: requestHeaders(headers),
      responseHeader: new CompactHeaders({ [CONTENT_TYPE]: "application/grpc+proto" }),
      responseTrailer: new CompactHeaders({ [GRPC_STATUS]: grpcStatusOk }),
      values,
    });
    void serve(route, stream, context, timeout.error, interceptors, opts.readMaxBytes);
    return true;
  };
}

async function serve(
  route: Route,
  stream: ServerHttp2Stream,
  context: FastPathContext,
  timeoutError: ConnectError | undefined,
  interceptors: Interceptor[],
  readMaxBytes: number,
): Promise<void> {
  const onClose = () => context.abort(new ConnectError("the caller cancelled the call", Code.Canceled));
  // `on`, not `once`: a once wrapper would live as long as the stream.
  stream.on("close", onClose);
  const out = new ResponseWriter(stream, context);
  try {
    if (timeoutError) throw timeoutError;
    const input = inboundMessages(stream, route.io.input, readMaxBytes, context.signal);
    if (route.spec.kind === "unary") {
      const output = await invokeUnaryImplementation(route.spec, context, await singleMessage(input), interceptors);
      await out.send(enveloped(route, output));
    } else {
      const call = await invokeStream(route.spec, context, input, interceptors);
      const output = call.messages[Symbol.asyncIterator]();
      try {
        let next = await output.next();
        for (; !next.done; next = await output.next()) {
          // A caller gone mid-stream: stop asking the handler for more.
          if (!(await out.send(enveloped(route, next.value)))) break;
        }
        if (next.done) call.finished();
      } finally {
        await output.return?.();
      }
    }
  } catch (err) {
    setTrailerStatus(context.responseTrailer, asCallError(err));
  } finally {
    stream.off("close", onClose);
    context.abort(CALL_FINISHED);
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

function ignore(): void {}

function headerValue(value: string | string[] | undefined): string | null {
  return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
}

function requestHeaders(headers: IncomingHttpHeaders): Headers {
  const fields: string[] = [];
  for (const [key, value] of Object.entries(headers)) {
    if (key.startsWith(":") || value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) fields.push(key, v);
    else fields.push(key, value);
  }
  return CompactHeaders.fromFields(fields);
}
