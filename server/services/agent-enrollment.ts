import { randomUUID } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import type { AgentInfo } from "../../gen/rmm/v1/agent_service_pb.js";
import { newAgentCredential, parseAgentCredential, secretMatches } from "../auth/agent-credential.js";
import { bearerToken } from "../auth/bearer.js";
import type { TokenIssuer } from "../auth/token-issuer.js";
import type { AuthenticatedAgent } from "../auth/claims.js";
import { parseLabelsJson } from "../../common/labels.js";
import { parseCapabilities, type AgentStore } from "../store/index.js";
import { cutText } from "../../common/cut-text.js";
import { checkAgentInfo } from "./agent-info-check.js";
import { actorOf, type AuditLog } from "./audit-log.js";

/** Turning enrollment tokens into agent identities, and agent credentials back into ids. */
export class AgentEnrollment {
  constructor(
    private readonly agents: AgentStore,
    private readonly issuer: TokenIssuer,
    private readonly audit: AuditLog,
  ) {}

  async enroll(enrollmentToken: string, info: AgentInfo | undefined): Promise<{ agentId: string; credential: string }> {
    if (enrollmentToken === "")
      throw new ConnectError(
        "enrollment_token is required: run `rmm-server enroll-token` to get one",
        Code.InvalidArgument,
      );
    const fields = checkAgentInfo(info, "info");
    await this.issuer.verifyEnrollment(enrollmentToken);
    const agentId = randomUUID();
    const { credential, hash } = newAgentCredential(agentId);
    await this.agents.insert({
      id: agentId,
      hostname: fields.hostname,
      os: fields.os,
      agent_version: fields.agentVersion,
      capabilities: JSON.stringify(fields.capabilities),
      credential_hash: hash,
      enrolled_at: Date.now(),
      last_seen_at: null,
      revoked_at: null,
    });
    await this.audit.record({
      actor: actorOf.agent(agentId),
      action: "agent.enroll",
      outcome: "ok",
      agentId,
      reason: fields.hostname,
    });
    return { agentId, credential };
  }

  /** The agent an `authorization` header proves, or Unauthenticated / PermissionDenied. */
  async authenticate(authorization: string | null): Promise<AuthenticatedAgent> {
    const parsed = parseAgentCredential(bearerToken(authorization, "agent credential"));
    if (!parsed) throw new ConnectError("malformed agent credential: enroll the agent again", Code.Unauthenticated);
    const agent = await this.agents.lookup(parsed.agentId);
    if (!agent || !secretMatches(parsed.secret, agent.credential_hash)) {
      throw new ConnectError("unknown agent credential: enroll the agent again", Code.Unauthenticated);
    }
    // Audited with every other refusal, summed per source (AuthFailureAudit): a revoked agent retries.
    if (agent.revoked_at !== null)
      throw new ConnectError(
        `agent ${agent.id} (${cutText(agent.hostname, 64)}) was revoked at ${new Date(agent.revoked_at).toISOString()}`,
        Code.PermissionDenied,
      );
    return {
      id: agent.id,
      hostname: agent.hostname,
      os: agent.os,
      agentVersion: agent.agent_version,
      capabilities: parseCapabilities(agent.capabilities),
      reportedLabels: parseLabelsJson(agent.reported_labels),
    };
  }
}
