import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { MCP_VIA_PREFIX } from "../../common/via-header.js";
import { technicianKey } from "../auth/claims.js";
import type { CommandPolicy } from "../policy/command-policy.js";
import { checkMcpCall } from "../policy/mcp-access.js";
import { actorOf, type AuditLog } from "../services/audit-log.js";

/**
 * The role's MCP setting, applied to every technician call (TunnelService
 * and JobService) marked as made through MCP, after the auth interceptor
 * verified the token and the marker. A refusal is audited as `mcp.refused` with the marker and ends the
 * call with PermissionDenied; the command and file policies still apply to
 * what is allowed through.
 */
export function mcpAccessInterceptor(deps: { policy: CommandPolicy; audit: AuditLog }): Interceptor {
  return (next) => async (req) => {
    const tech = req.contextValues.get(technicianKey);
    if (!tech?.via?.startsWith(MCP_VIA_PREFIX)) return next(req);
    const decision = checkMcpCall(deps.policy.mcpAccess(tech.role), tech.role, req.service.typeName, req.method.name);
    if (decision.type === "allow") return next(req);
    await deps.audit.recordBestEffort({
      actor: actorOf.technician(tech.subject),
      action: "mcp.refused",
      outcome: "refused",
      reason: `${req.method.name}: ${decision.reason}`,
      via: tech.via,
    });
    throw new ConnectError(decision.reason, Code.PermissionDenied);
  };
}
