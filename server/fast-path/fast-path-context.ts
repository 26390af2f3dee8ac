import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type ContextValues, type HandlerContext } from "@connectrpc/connect";

export interface FastPathContextInit {
  method: DescMethod;
  /** The request's `:authority` and `:path`, for `url`. */
  authority: string;
  path: string;
  /** From grpc-timeout; undefined: none. */
  timeoutMs: number | undefined;
  requestHeader: Headers;
  responseHeader: Headers;
  responseTrailer: Headers;
  values: ContextValues;
}

/**
 * A call's handler context as connect's `createHandlerContext` builds it
 * (same fields, same deadline error), for a call that lives as long as an
 * agent's stream: one AbortController instead of two linked ones (a
 * deadline one and its link, each an EventTarget with two maps and a
 * listener), a deadline timer only when the caller set a timeout, no copies
 * of the three header sets. That was about
 * 1.5 KiB of heap per idle agent (heap snapshot of 1,000 agents).
 */
export class FastPathContext implements HandlerContext {
  // Own fields only, no getters: connect hands the implementation a spread copy of the context.
  readonly method: DescMethod;
  readonly service: DescService;
  readonly requestMethod = "POST";
  readonly protocolName = "grpc";
  readonly requestHeader: Headers;
  readonly responseHeader: Headers;
  readonly responseTrailer: Headers;
  readonly values: ContextValues;
  readonly signal: AbortSignal;
  readonly url: string;
  readonly timeoutMs: () => number | undefined;
  readonly #controller = new AbortController();
  #deadline: NodeJS.Timeout | undefined;

  constructor(init: FastPathContextInit) {
    this.method = init.method;
    this.service = init.method.parent;
    this.url = `http://${init.authority}${init.path}`;
    this.requestHeader = init.requestHeader;
    this.responseHeader = init.responseHeader;
    this.responseTrailer = init.responseTrailer;
    this.values = init.values;
    this.signal = this.#controller.signal;
    if (init.timeoutMs === undefined) {
      this.timeoutMs = noTimeout;
      return;
    }
    const deadlineAt = Date.now() + init.timeoutMs;
    this.timeoutMs = () => deadlineAt - Date.now();
    const expire = () => this.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded));
    if (init.timeoutMs <= 0) expire();
    else this.#deadline = setTimeout(expire, init.timeoutMs);
  }

  /** Ends the call's signal (the first reason stands) and its deadline timer. */
  abort(reason?: unknown): void {
    clearTimeout(this.#deadline);
    this.#deadline = undefined;
    if (!this.signal.aborted) this.#controller.abort(reason);
  }
}

/** The timeoutMs of every call without a deadline. */
function noTimeout(): undefined {
  return undefined;
}
