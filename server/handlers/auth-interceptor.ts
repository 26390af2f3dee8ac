import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { VIA_HEADER, viaProblem } from "../../common/via-header.js";
import { AgentService } from "../../gen/rmm/v1/agent_service_pb.js";
import { JobService } from "../../gen/rmm/v1/job_service_pb.js";
import { TunnelService } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { agentKey, technicianKey, type AuthenticatedAgent } from "../auth/claims.js";
import { peerKey } from "../auth/peer.js";
import type { TechnicianVerifier } from "../auth/technician-verifier.js";
import type { AuthFailure } from "../services/auth-failure-audit.js";

export interface AuthInterceptorDeps {
  verifyTechnician: TechnicianVerifier;
  /** Agent credential check for AgentService.Connect. */
  authenticateAgent: (authorization: string | null) => Promise<AuthenticatedAgent>;
  /** Told of every refusal, for the audit trail. */
  refused: (failure: AuthFailure) => void;
}

/**
 * Authentication for every call, decided by which service it is for:
 * technician JWTs on TunnelService and JobService, agent credentials on the agent stream.
 * Enroll carries its own token in the request; reflection and health are open
 * (they reveal only the public contract and liveness). A technician call's
 * `x-rmm-via` marker is checked here and travels with the technician. Handlers read the
 * result from the context and never parse headers themselves.
 */
export function authInterceptor(deps: AuthInterceptorDeps): Interceptor {
  const checked = async <T>(kind: AuthFailure["kind"], source: string, check: Promise<T>): Promise<T> => {
    try {
      return await check;
    } catch (err) {
      // Unavailable (the database or the key set away) is not a refusal.
      if (err instanceof ConnectError && (err.code === Code.Unauthenticated || err.code === Code.PermissionDenied))
        deps.refused({ kind, source, reason: err.rawMessage });
      throw err;
    }
  };
  return (next) => async (req) => {
    const authorization = req.header.get("authorization");
    const source = req.contextValues.get(peerKey);
    if (req.service.typeName === TunnelService.typeName || req.service.typeName === JobService.typeName) {
      const technician = await checked("technician", source, deps.verifyTechnician(authorization));
      const via = req.header.get(VIA_HEADER);
      if (via === null || via === "") {
        req.contextValues.set(technicianKey, technician);
      } else {
        const problem = viaProblem(via);
        if (problem) throw new ConnectError(problem, Code.InvalidArgument);
        // A copy: the verifier caches the technician per token, and the marker is per call.
        req.contextValues.set(technicianKey, { ...technician, via });
      }
    } else if (req.service.typeName === AgentService.typeName && req.method.name === AgentService.method.connect.name) {
      req.contextValues.set(agentKey, await checked("agent", source, deps.authenticateAgent(authorization)));
    }
    return next(req);
  };
}
