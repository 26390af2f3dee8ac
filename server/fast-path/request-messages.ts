import type { Readable } from "node:stream";
import type { Message } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Serialization } from "@connectrpc/connect/protocol";
import { AsyncQueue } from "../../common/async-queue.js";
import { asCallError } from "./call-error.js";
import { EnvelopeDecoder } from "./envelope-decoder.js";
import { asyncIterable } from "../../common/async-iterable.js";

/**
 * Inbound messages parsed but not yet taken by the handler before the
 * request stops being read (HTTP/2 flow control then holds the sender), and
 * the level at which reading resumes.
 */
const INBOUND_HIGH_WATER = 64;
const INBOUND_LOW_WATER = 16;

/**
 * The request's messages (the body of the call's HTTP/2 stream) as the
 * handler iterates them, parsed as they arrive. Reading pauses while the handler is behind, so a client cannot
 * queue more than INBOUND_HIGH_WATER messages here.
 */
export function inboundMessages(
  req: Readable,
  input: Serialization<Message>,
  readMaxBytes: number,
  signal: AbortSignal,
): AsyncIterable<Message> {
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
  const onEnd = () =>
    stop(decoder.pending ? new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument) : undefined);
  const onError = (err: Error) => stop(ConnectError.from(err, Code.Canceled));
  const onAbort = () => stop(ConnectError.from(signal.reason, Code.Canceled));
  if (signal.aborted) onAbort();
  else {
    req.on("data", onData);
    // `on`, not `once` (stop takes them off): once wrappers would live as long as the stream.
    req.on("end", onEnd);
    req.on("error", onError);
    signal.addEventListener("abort", onAbort);
  }
  const messages = queue[Symbol.asyncIterator]();
  return asyncIterable(() => ({
    next: () => {
      const next = messages.next();
      if (queue.size <= INBOUND_LOW_WATER && req.isPaused()) req.resume();
      return next;
    },
    return: (value?: unknown) => {
      stop();
      return messages.return ? messages.return(value) : Promise.resolve({ done: true as const, value: undefined });
    },
  }));
}

/** The one message of a unary request, checked as connect checks it. */
export async function singleMessage(messages: AsyncIterable<Message>): Promise<Message> {
  const it = messages[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) throw new ConnectError("protocol error: missing input message for unary method", Code.Unimplemented);
  const second = await it.next();
  if (!second.done) {
    await it.return?.();
    throw new ConnectError("protocol error: received extra input message for unary method", Code.Unimplemented);
  }
  return first.value;
}
