import { Code } from "@connectrpc/connect";
import { errnoOf } from "../../common/errno-code.js";
import { formatTarget, type ForwardTarget } from "../../common/forward-target.js";

/**
 * A socket error of a TCP channel -> the close a technician sees: the one
 * place network errnos are mapped. Before the connection is up the error is
 * about reaching the target; after it, about the connection ending badly.
 */
export function connectErrorOf(
  err: unknown,
  target: ForwardTarget,
  connected: boolean,
): { code: Code; message: string } {
  const errno = errnoOf(err) ?? "";
  const where = formatTarget(target);
  const detail = (err as Error | undefined)?.message ?? String(err);
  if (connected) {
    if (errno === "ECONNRESET") return { code: Code.Unavailable, message: `connection reset by ${where}` };
    if (errno === "EPIPE") return { code: Code.Unavailable, message: `${where} closed the connection` };
    return { code: Code.Unavailable, message: `connection to ${where} failed: ${detail}` };
  }
  switch (errno) {
    case "ECONNREFUSED":
      return { code: Code.Unavailable, message: `connection refused by ${where}` };
    case "ENOTFOUND":
      return { code: Code.NotFound, message: `${target.host} does not resolve on the agent (${errno})` };
    case "EAI_AGAIN":
      return { code: Code.Unavailable, message: `could not resolve ${target.host} on the agent for now (${errno})` };
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return { code: Code.Unavailable, message: `${where} is unreachable from the agent (${errno})` };
    case "ETIMEDOUT":
      return { code: Code.DeadlineExceeded, message: `no answer from ${where} (${errno})` };
    case "EACCES":
    case "EPERM":
      return { code: Code.PermissionDenied, message: `the agent may not connect to ${where} (${errno})` };
    default:
      return { code: Code.Unavailable, message: `could not connect to ${where}: ${detail}` };
  }
}
