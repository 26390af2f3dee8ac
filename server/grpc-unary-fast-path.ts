import type { Http2ServerRequest, Http2ServerResponse, IncomingHttpHeaders } from "node:http2";
import type { Message } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, createHandlerContext, type Interceptor, type MethodImplSpec, type ServiceImplSpec } from "@connectrpc/connect";
import { createMethodSerializationLookup, encodeEnvelope, invokeUnaryImplementation, type Serialization } from "@connectrpc/connect/protocol";
import { grpcStatusOk, parseContentType, parseTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";

export interface GrpcUnaryFastPathOptions {
  /** Services whose unary methods take the fast path (`createServiceImplSpec` of the implementation connect serves). */
  services: readonly ServiceImplSpec[];
  /** The interceptors connect applies, in the same order. */
  interceptors: readonly Interceptor[];
  readMaxBytes: number;
  writeMaxBytes: number;
}

/** Takes a request if it can (true), or leaves it untouched for connect (false). */
export type FastPathHandler = (req: Http2ServerRequest, res: Http2ServerResponse) => boolean;

type UnarySpec = Extract<MethodImplSpec, { kind: "unary" }>;

interface Route {
  spec: UnarySpec;
  io: { input: Serialization<Message>; output: Serialization<Message> };
}

/** Node gives request header names in lower case (connect's constants are capitalised for fetch Headers). */
const CONTENT_TYPE = "content-type";
const GRPC_ENCODING = "grpc-encoding";
const GRPC_TIMEOUT = "grpc-timeout";
const GRPC_STATUS = "grpc-status";
/** gRPC message envelope: flags byte, 4-byte big-endian length. */
const ENVELOPE_HEADER_BYTES = 5;
const COMPRESSED_FLAG = 0b1;
/** What a finished call aborts its context with: a plain value, so no DOMException is built per call. */
const CALL_FINISHED = new ConnectError("call finished", Code.Canceled);

/**
 * Binary gRPC unary calls (the technician's OpenTunnel, CloseTunnel and the
 * rest), served straight from Node's HTTP/2 request with connect's own
 * pieces: its handler context, interceptors and implementation invoker, its
 * serialization limits, timeout parsing and trailer status. What it leaves
 * out is connect-node's general request pipeline (URL and fetch Headers
 * conversion, linked abort controllers, eight async-generator stages and a
 * DOMException for every finished call), measured here at about 1.1 ms of
 * CPU per unary call, more than the work most of these calls do. Everything
 * else (streams, the Connect and gRPC-Web protocols, JSON, compression,
 * unknown paths) is left to connect.
 */
export function grpcUnaryFastPath(opts: GrpcUnaryFastPathOptions): FastPathHandler {
  const routes = new Map<string, Route>();
  const limits = { readMaxBytes: opts.readMaxBytes, writeMaxBytes: opts.writeMaxBytes };
  for (const { service, methods } of opts.services) {
    for (const spec of Object.values(methods)) {
      if (spec.kind !== "unary") continue;
      const serialization = createMethodSerializationLookup(spec.method, undefined, undefined, limits);
      routes.set(`/${service.typeName}/${spec.method.name}`, { spec, io: { input: serialization.getI(true), output: serialization.getO(true) } });
    }
  }
  const interceptors = [...opts.interceptors];

  return (req, res) => {
    const route = req.method === "POST" ? routes.get(req.headers[":path"] ?? "") : undefined;
    if (!route || !parseContentType(headerValue(req.headers[CONTENT_TYPE]))?.binary) return false;
    // Compressed requests (never sent by our clients: the server accepts none) get connect's answer.
    const encoding = req.headers[GRPC_ENCODING];
    if (encoding !== undefined && encoding !== "identity") return false;
    void serve(route, req, res, interceptors, opts.readMaxBytes);
    return true;
  };
}

async function serve(route: Route, req: Http2ServerRequest, res: Http2ServerResponse, interceptors: Interceptor[], readMaxBytes: number): Promise<void> {
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
    contextValues: createContextValues(),
  });
  let body: Uint8Array | undefined;
  try {
    if (timeout.error) throw timeout.error;
    const input = route.io.input.parse(unaryMessage(await readBody(req, readMaxBytes, context.signal), readMaxBytes));
    const output = await invokeUnaryImplementation(route.spec, context, input, interceptors);
    body = encodeEnvelope(0, route.io.output.serialize(output));
  } catch (err) {
    setTrailerStatus(context.responseTrailer, asCallError(err));
  } finally {
    context.abort(CALL_FINISHED);
    req.off("close", onClose);
  }
  // The caller may have hung up while the call ran; there is nobody to answer.
  if (res.stream.destroyed || res.stream.closed) return;
  res.writeHead(200, toNodeHeaders(context.responseHeader));
  if (body) res.write(body);
  res.addTrailers(toNodeHeaders(context.responseTrailer));
  res.end();
}

/** As connect reports them: ConnectErrors as they are, undecodable input as the caller's bad input, the rest as internal. */
function asCallError(err: unknown): ConnectError {
  if (!(err instanceof ConnectError)) return new ConnectError("internal error", Code.Internal, undefined, undefined, err);
  if (err.code === Code.Internal && err.rawMessage.startsWith("parse ")) return new ConnectError(`malformed message: ${err.rawMessage}`, Code.InvalidArgument);
  return err;
}

/** The whole request body; a caller that hangs up or runs out of time while sending ends the wait. */
function readBody(req: Http2ServerRequest, readMaxBytes: number, signal: AbortSignal): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > readMaxBytes + ENVELOPE_HEADER_BYTES) {
        cleanup();
        req.resume();
        reject(new ConnectError(`message size is larger than configured readMaxBytes ${readMaxBytes}`, Code.ResourceExhausted));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(ConnectError.from(err, Code.Canceled));
    };
    const onAbort = () => {
      cleanup();
      reject(ConnectError.from(signal.reason, Code.Canceled));
    };
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      signal.removeEventListener("abort", onAbort);
    };
    if (signal.aborted) return onAbort();
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("error", onError);
    signal.addEventListener("abort", onAbort);
  });
}

/** The one message of a unary request body, checked as connect checks it. */
function unaryMessage(body: Uint8Array, readMaxBytes: number): Uint8Array {
  if (body.length === 0) throw new ConnectError("protocol error: missing input message for unary method", Code.Unimplemented);
  if (body.length < ENVELOPE_HEADER_BYTES) throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
  const flags = body[0]!;
  const length = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(1);
  if (length > readMaxBytes) throw new ConnectError(`message size ${length} is larger than configured readMaxBytes ${readMaxBytes}`, Code.ResourceExhausted);
  if ((flags & COMPRESSED_FLAG) !== 0) throw new ConnectError("protocol error: received compressed input, but no compression was negotiated", Code.Internal);
  const end = ENVELOPE_HEADER_BYTES + length;
  if (body.length < end) throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
  if (body.length > end) throw new ConnectError("protocol error: received extra input message for unary method", Code.Unimplemented);
  return body.subarray(ENVELOPE_HEADER_BYTES, end);
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

function toNodeHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, key) => {
    out[key] = value;
  });
  return out;
}
