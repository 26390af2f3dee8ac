import { Code, ConnectError } from "@connectrpc/connect";
import { asCallerError } from "../handlers/error-interceptor.js";

/** Errors raised outside the interceptors (decoding, limits, timeouts), reported as the interceptors report theirs. */
export function asCallError(err: unknown): ConnectError {
  return err instanceof ConnectError
    ? asCallerError(err)
    : new ConnectError("internal error", Code.Internal, undefined, undefined, err);
}
