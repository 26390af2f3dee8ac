import { randomUUID } from "node:crypto";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { CUT_TEXT_MAX, cutText } from "../../common/cut-text.js";
import type { Logger } from "../../common/logger.js";
import { requestIdKey } from "../observability/request-id.js";
import { isStoreUnavailable } from "../store/index.js";
import { asyncIterable } from "../../common/async-iterable.js";

/**
 * The RPC boundary: ConnectErrors pass through (an undecodable request becomes
 * InvalidArgument); a database that cannot be
 * reached becomes Unavailable (retry later); anything else is a bug, logged in
 * full under an id the caller is given (the call's request id, so the log line
 * and the caller's error name the same id), and never leaks internals.
 */
/**
 * connect reports a request it cannot decode as Internal ("parse ..."); it is the caller's bad input.
 * Messages are cut to CUT_TEXT_MAX: many repeat what the caller sent, and the status travels in an HTTP/2 trailer.
 */
export function asCallerError(err: ConnectError): ConnectError {
  if (err.code === Code.Internal && err.rawMessage.startsWith("parse "))
    return new ConnectError(cutText(`malformed message: ${err.rawMessage}`), Code.InvalidArgument);
  if (err.rawMessage.length <= CUT_TEXT_MAX) return err;
  const cut = new ConnectError(cutText(err.rawMessage), err.code, err.metadata, undefined, err.cause);
  cut.details = err.details;
  return cut;
}

export function errorInterceptor(log: Logger): Interceptor {
  const map = (
    err: unknown,
    req: { service: DescService; method: DescMethod },
    requestId: string | undefined,
  ): ConnectError => {
    // Named only when logged: a string built per call would live as long as each agent's stream.
    const procedure = `${req.service.typeName}/${req.method.name}`;
    if (err instanceof ConnectError) return asCallerError(err);
    if (isStoreUnavailable(err)) {
      log.warn({ err, procedure }, "database unavailable");
      return new ConnectError("database unavailable; try again shortly", Code.Unavailable);
    }
    const incident = requestId ?? randomUUID();
    log.error({ err, procedure, incident }, "unexpected error");
    return new ConnectError(`internal error (incident ${incident})`, Code.Internal);
  };
  return (next) => async (req) => {
    const requestId = req.contextValues.get(requestIdKey);
    try {
      const res = await next(req);
      if (!res.stream) return res;
      return { ...res, message: mapErrors(res.message, (err) => map(err, req, requestId)) };
    } catch (err) {
      throw map(err, req, requestId);
    }
  };
}

/**
 * `source` with what its next() and return() throw passed through `map`. A
 * plain iterator rather than an async generator: an agent's stream lives for
 * days, and a generator's objects and closures were a few hundred bytes of
 * heap per idle agent.
 */
function mapErrors<T>(source: AsyncIterable<T>, map: (err: unknown) => ConnectError): AsyncIterable<T> {
  return asyncIterable(() => {
    const inner = source[Symbol.asyncIterator]();
    const fail = (err: unknown): never => {
      throw map(err);
    };
    return {
      next: () => inner.next().catch(fail),
      return: async (value?: unknown) => {
        const r = await inner.return?.(value).catch(fail);
        return r ?? { done: true, value: undefined };
      },
    };
  });
}
