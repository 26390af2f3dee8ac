import { Code, ConnectError } from "@connectrpc/connect";

/** As connect reports them: ConnectErrors as they are, undecodable input as the caller's bad input, the rest as internal. */
export function asCallError(err: unknown): ConnectError {
  if (!(err instanceof ConnectError)) return new ConnectError("internal error", Code.Internal, undefined, undefined, err);
  if (err.code === Code.Internal && err.rawMessage.startsWith("parse ")) return new ConnectError(`malformed message: ${err.rawMessage}`, Code.InvalidArgument);
  return err;
}
