import { context, propagation, SpanKind, SpanStatusCode, trace, type Tracer } from "@opentelemetry/api";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { observeIterable } from "./observe-iterable.js";
import { requestIdKey } from "./request-id.js";

const headerGetter = {
  get: (carrier: Headers, key: string) => carrier.get(key) ?? undefined,
  keys: (carrier: Headers) => [...carrier.keys()],
};

/**
 * One OpenTelemetry SERVER span per RPC, named `service/method` as the RPC
 * semantic conventions have it, a child of the caller's `traceparent` when it
 * sends one, ended when the call's last message is sent. Put it outside the
 * observing interceptor so the span carries the request id.
 */
export function tracingInterceptor(tracer: Tracer): Interceptor {
  return (next) => async (req) => {
    const parent = propagation.extract(context.active(), req.header, headerGetter);
    const span = tracer.startSpan(
      `${req.service.typeName}/${req.method.name}`,
      {
        kind: SpanKind.SERVER,
        attributes: { "rpc.system": "grpc", "rpc.service": req.service.typeName, "rpc.method": req.method.name },
      },
      parent,
    );
    let ended = false;
    const end = (err: unknown) => {
      if (ended) return;
      ended = true;
      const requestId = req.contextValues.get(requestIdKey);
      if (requestId) span.setAttribute("rmm.request_id", requestId);
      const code = err === undefined ? 0 : ConnectError.from(err).code;
      span.setAttribute("rpc.grpc.status_code", code);
      if (code !== 0)
        span.setStatus({ code: SpanStatusCode.ERROR, message: `${Code[code]}: ${ConnectError.from(err).rawMessage}` });
      span.end();
    };
    try {
      const res = await context.with(trace.setSpan(parent, span), () => next(req));
      if (!res.stream) {
        end(undefined);
        return res;
      }
      return { ...res, message: observeIterable(res.message, () => undefined, end) };
    } catch (err) {
      end(err);
      throw err;
    }
  };
}
