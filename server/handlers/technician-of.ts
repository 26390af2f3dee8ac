import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { technicianKey, type Technician } from "../auth/claims.js";

/** The technician the auth interceptor verified for this call. */
export function technicianOf(ctx: HandlerContext): Technician {
  const tech = ctx.values.get(technicianKey);
  // Only reachable if the interceptor was left out of the router: fail closed.
  if (!tech) throw new ConnectError("not authenticated", Code.Unauthenticated);
  return tech;
}
