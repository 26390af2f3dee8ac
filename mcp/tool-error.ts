import { Code, ConnectError } from "@connectrpc/connect";

/** A failure the assistant can act on, in one sentence; thrown by tools and reported as `isError: true`. */
export class ToolError extends Error {}

/** Longest message handed back: enough for the server's sentence and a hint. */
const MAX_MESSAGE_CHARS = 1_000;

const HINTS: Partial<Record<Code, string>> = {
  [Code.Unauthenticated]: "the technician's token was refused; sign in again (rmm login) or use a fresh token",
  [Code.PermissionDenied]: "refused by the server's policy for this technician",
  [Code.NotFound]: "not found",
  [Code.FailedPrecondition]: "not possible in the current state",
  [Code.AlreadyExists]: "already exists",
  [Code.InvalidArgument]: "invalid argument",
  [Code.OutOfRange]: "out of range",
  [Code.DeadlineExceeded]: "timed out",
  [Code.ResourceExhausted]: "over a limit",
  [Code.DataLoss]: "the data failed its integrity check",
  [Code.Canceled]: "cancelled",
};

/**
 * The one line a tool error carries: the server's own message, prefixed with
 * what kind of failure it is, so an assistant can tell "not allowed" from
 * "try again" from "fix the argument".
 */
export function toolErrorMessage(err: unknown): string {
  let message: string;
  if (err instanceof ConnectError) {
    if (err.code === Code.Unavailable && /ECONNREFUSED|connect|socket|network|ENOTFOUND/i.test(err.rawMessage))
      message = `cannot reach the rmm server (${err.rawMessage}): is it running, and is the configured URL right?`;
    else if (err.code === Code.Unavailable)
      message = `the rmm server is unavailable: ${err.rawMessage}; try again shortly`;
    else message = `${HINTS[err.code] ?? Code[err.code]}: ${err.rawMessage}`;
  } else {
    message = err instanceof Error ? err.message : String(err);
  }
  return message.length > MAX_MESSAGE_CHARS ? `${message.slice(0, MAX_MESSAGE_CHARS)}...` : message;
}
