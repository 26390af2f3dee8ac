import { randomUUID } from "node:crypto";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { CUT_TEXT_MAX, cutText } from "../../common/cut-text.js";
import type { Logger } from "../../common/logger.js";
import { requestIdKey } from "../observability/request-id.js";
import { isStoreUnavailable } from "../store/index.js";

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
  const map = (err: unknown, procedure: string, requestId: string | undefined): ConnectError => {
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
    const procedure = `${req.service.typeName}/${req.method.name}`;
    const requestId = req.contextValues.get(requestIdKey);
    try {
      const res = await next(req);
      if (!res.stream) return res;
      const messages = res.message;
      return {
        ...res,
        message: (async function* () {
          try {
            yield* messages;
          } catch (err) {
            throw map(err, procedure, requestId);
          }
        })(),
      };
    } catch (err) {
      throw map(err, procedure, requestId);
    }
  };
}
