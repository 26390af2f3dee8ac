import type { Message } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "../../common/logger.js";
import { TunnelService } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { technicianKey } from "../auth/claims.js";
import { observeIterable } from "./observe-iterable.js";
import { REQUEST_ID_HEADER, requestIdFrom, requestIdKey } from "./request-id.js";
import { actionFields, type ActionFields } from "./technician-action.js";
import { asyncIterable } from "../../common/async-iterable.js";

export interface RpcObserver {
  rpcFinished(service: string, method: string, code: number, seconds: number): void;
}

export interface RpcObserverDeps {
  metrics: RpcObserver;
  log: Logger;
  /** The agent of a live session, so a line about a session names its agent too. */
  agentOfSession: (sessionId: string) => string | undefined;
}

/**
 * The outermost interceptor: gives every call a request id (the caller's
 * `x-request-id`, or a new one) that is returned in the response headers and
 * used as the incident id of internal errors; counts and times every call; and
 * writes one structured line per technician call (what was asked, by whom, on
 * which agent and session, and how it ended, with the refusal's reason), so
 * one id finds a call in the log and in the audit trail.
 */
export function rpcObserverInterceptor(deps: RpcObserverDeps): Interceptor {
  return (next) => async (req) => {
    const started = performance.now();
    const requestId = requestIdFrom(req.header.get(REQUEST_ID_HEADER));
    req.contextValues.set(requestIdKey, requestId);
    const service = req.service.typeName;
    const method = req.method.name;
    const isTechnician = service === TunnelService.typeName;
    const fields: ActionFields = {};
    const note = (message: Message) => {
      for (const [key, value] of Object.entries(actionFields(message)))
        if (value !== undefined && value !== "") Object.assign(fields, { [key]: value });
      if (fields.sessionId && !fields.agentId) {
        const agentId = deps.agentOfSession(fields.sessionId);
        if (agentId) fields.agentId = agentId;
      }
    };
    let finished = false;
    const finish = (err: unknown) => {
      if (finished) return;
      finished = true;
      const code = err === undefined ? 0 : ConnectError.from(err).code;
      deps.metrics.rpcFinished(service, method, code, (performance.now() - started) / 1000);
      if (!isTechnician) return;
      const tech = req.contextValues.get(technicianKey);
      const line = {
        requestId,
        technician: tech?.subject,
        role: tech?.role,
        action: method,
        ...fields,
        code: code === 0 ? "ok" : Code[code],
        durationMs: Math.round(performance.now() - started),
      };
      // Written once the response is on its way (HTTP/2 writes go out in native immediates, which run
      // before this one): the line is a synchronous write to a pipe, whose reader it wakes, and the call's
      // last frames need not wait behind it.
      const reason = code === 0 ? undefined : ConnectError.from(err).rawMessage;
      setImmediate(() => {
        if (reason === undefined) deps.log.info(line, `technician ${method}`);
        else deps.log.warn({ ...line, reason }, `technician ${method} refused`);
      });
    };

    if (isTechnician && !req.stream) note(req.message);
    const request = isTechnician && req.stream ? { ...req, message: firstNoted(req.message, note) } : req;
    try {
      const res = await next(request);
      res.header.set(REQUEST_ID_HEADER, requestId);
      if (!res.stream) {
        if (isTechnician) note(res.message);
        finish(undefined);
        return res;
      }
      return { ...res, message: observeIterable(res.message, isTechnician ? note : () => undefined, finish) };
    } catch (err) {
      if (err instanceof ConnectError) err.metadata.set(REQUEST_ID_HEADER, requestId);
      finish(err);
      throw err;
    }
  };
}

/**
 * Notes the first message of a request stream only: later ones are chunks and
 * data, passed straight through with no extra promise per message.
 */
function firstNoted<T extends Message>(source: AsyncIterable<T>, note: (m: Message) => void): AsyncIterable<T> {
  return asyncIterable(() => {
    const inner = source[Symbol.asyncIterator]();
    let first = true;
    return {
      next: () => {
        if (!first) return inner.next();
        first = false;
        return inner.next().then((result) => {
          if (!result.done) note(result.value);
          return result;
        });
      },
      return: async (value?: unknown) => (await inner.return?.(value)) ?? { done: true, value: undefined },
    };
  });
}
