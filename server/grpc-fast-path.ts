import type { Http2ServerRequest, Http2ServerResponse, IncomingHttpHeaders } from "node:http2";
import type { Message } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, createHandlerContext, type HandlerContext, type Interceptor, type MethodImplSpec, type ServiceImplSpec } from "@connectrpc/connect";
import { createMethodSerializationLookup, encodeEnvelope, invokeUnaryImplementation, transformInvokeImplementation, type Serialization } from "@connectrpc/connect/protocol";
import { grpcStatusOk, parseContentType, parseTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { AsyncQueue } from "../common/async-queue.js";
import { EnvelopeDecoder } from "./envelope-decoder.js";

export interface GrpcFastPathOptions {
  /** Services whose methods take the fast path (`createServiceImplSpec` of the implementation connect serves). */
  services: readonly ServiceImplSpec[];
  /** The interceptors connect applies, in the same order. */
  interceptors: readonly Interceptor[];
  readMaxBytes: number;
  writeMaxBytes: number;
}

/** Takes a request if it can (true), or leaves it untouched for connect (false). */
export type FastPathHandler = (req: Http2ServerRequest, res: Http2ServerResponse) => boolean;

interface Route {
  spec: MethodImplSpec;
  io: { input: Serialization<Message>; output: Serialization<Message> };
}

/** Node gives request header names in lower case (connect's constants are capitalised for fetch Headers). */
const CONTENT_TYPE = "content-type";
const GRPC_ENCODING = "grpc-encoding";
const GRPC_TIMEOUT = "grpc-timeout";
const GRPC_STATUS = "grpc-status";
/** What a finished call aborts its context with: a plain value, so no DOMException is built per call. */
const CALL_FINISHED = new ConnectError("call finished", Code.Canceled);
/**
 * Inbound messages parsed but not yet taken by the handler before the
 * request stops being read (HTTP/2 flow control then holds the sender), and
 * the level at which reading resumes.
 */
const INBOUND_HIGH_WATER = 64;
const INBOUND_LOW_WATER = 16;

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
  const out = new ResponseWriter(res, context);
  try {
    if (timeout.error) throw timeout.error;
    if (route.spec.kind === "unary") {
      const input = route.io.input.parse(singleMessage(await readBody(req, readMaxBytes, context.signal)));
      const output = await invokeUnaryImplementation(route.spec, context, input, interceptors);
      await out.send(route.io.output.serialize(output));
    } else {
      const input = inboundMessages(req, route.io.input, readMaxBytes, context.signal);
      const output = transformInvokeImplementation(route.spec, context, interceptors)(input)[Symbol.asyncIterator]();
      try {
        for (let next = await output.next(); !next.done; next = await output.next()) {
          // A caller gone mid-stream: stop asking the handler for more.
          if (!(await out.send(route.io.output.serialize(next.value as Message)))) break;
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

/** The response side of one call: headers with the first message, flow control, trailers at the end. */
class ResponseWriter {
  private headersSent = false;

  constructor(
    private readonly res: Http2ServerResponse,
    private readonly context: HandlerContext,
  ) {}

  private get gone(): boolean {
    return this.res.stream.destroyed || this.res.stream.closed;
  }

  /** Writes one message; waits while HTTP/2 flow control holds it. False once the caller is gone. */
  async send(message: Uint8Array): Promise<boolean> {
    if (this.gone) return false;
    this.sendHeaders();
    if (this.res.write(encodeEnvelope(0, message))) return true;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.res.off("drain", done);
        this.res.stream.off("close", done);
        resolve();
      };
      this.res.once("drain", done);
      this.res.stream.once("close", done);
    });
    return !this.gone;
  }

  /** Trailers with the call's status; nothing when the caller already hung up. */
  finish(): void {
    if (this.gone) return;
    try {
      this.sendHeaders();
      this.res.addTrailers(toNodeHeaders(this.context.responseTrailer));
      this.res.end();
    } catch {
      // The stream closed between the check and the write: nobody is left to tell.
    }
  }

  private sendHeaders(): void {
    if (this.headersSent) return;
    this.headersSent = true;
    this.res.writeHead(200, toNodeHeaders(this.context.responseHeader));
  }
}

/**
 * The request's messages as the handler iterates them, parsed as they
 * arrive. Reading pauses while the handler is behind, so a client cannot
 * queue more than INBOUND_HIGH_WATER messages here.
 */
function inboundMessages(req: Http2ServerRequest, input: Serialization<Message>, readMaxBytes: number, signal: AbortSignal): AsyncIterable<Message> {
  const queue = new AsyncQueue<Message>();
  const decoder = new EnvelopeDecoder(readMaxBytes);
  const stop = (error?: unknown) => {
    req.off("data", onData);
    req.off("end", onEnd);
    req.off("error", onError);
    signal.removeEventListener("abort", onAbort);
    queue.end(error);
  };
  const onData = (chunk: Buffer) => {
    try {
      for (const message of decoder.push(chunk)) queue.push(input.parse(message));
    } catch (err) {
      stop(asCallError(err));
      return;
    }
    if (queue.size >= INBOUND_HIGH_WATER) req.pause();
  };
  const onEnd = () => stop(decoder.pending ? new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument) : undefined);
  const onError = (err: Error) => stop(ConnectError.from(err, Code.Canceled));
  const onAbort = () => stop(ConnectError.from(signal.reason, Code.Canceled));
  if (signal.aborted) onAbort();
  else {
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("error", onError);
    signal.addEventListener("abort", onAbort);
  }
  const messages = queue[Symbol.asyncIterator]();
  return {
    [Symbol.asyncIterator]: () => ({
      next: () => {
        const next = messages.next();
        if (queue.size <= INBOUND_LOW_WATER && req.isPaused()) req.resume();
        return next;
      },
      return: (value?: unknown) => {
        stop();
        return messages.return ? messages.return(value) : Promise.resolve({ done: true as const, value: undefined });
      },
    }),
  };
}

/** As connect reports them: ConnectErrors as they are, undecodable input as the caller's bad input, the rest as internal. */
function asCallError(err: unknown): ConnectError {
  if (!(err instanceof ConnectError)) return new ConnectError("internal error", Code.Internal, undefined, undefined, err);
  if (err.code === Code.Internal && err.rawMessage.startsWith("parse ")) return new ConnectError(`malformed message: ${err.rawMessage}`, Code.InvalidArgument);
  return err;
}

/** The whole request body; a caller that hangs up or runs out of time while sending ends the wait. */
function readBody(req: Http2ServerRequest, readMaxBytes: number, signal: AbortSignal): Promise<Uint8Array[]> {
  return new Promise((resolve, reject) => {
    const decoder = new EnvelopeDecoder(readMaxBytes);
    const messages: Uint8Array[] = [];
    const onData = (chunk: Buffer) => {
      try {
        messages.push(...decoder.push(chunk));
      } catch (err) {
        cleanup();
        req.resume();
        reject(err);
      }
    };
    const onEnd = () => {
      cleanup();
      if (decoder.pending) reject(new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument));
      else resolve(messages);
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

/** The one message of a unary request, checked as connect checks it. */
function singleMessage(messages: Uint8Array[]): Uint8Array {
  if (messages.length === 0) throw new ConnectError("protocol error: missing input message for unary method", Code.Unimplemented);
  if (messages.length > 1) throw new ConnectError("protocol error: received extra input message for unary method", Code.Unimplemented);
  return messages[0]!;
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
