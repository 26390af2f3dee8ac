import { randomUUID } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import type { AgentInfo } from "../../gen/rmm/v1/agent_service_pb.js";
import { newAgentCredential, parseAgentCredential, secretMatches } from "../auth/agent-credential.js";
import { bearerToken } from "../auth/bearer.js";
import type { TokenIssuer } from "../auth/token-issuer.js";
import type { AuthenticatedAgent } from "../auth/claims.js";
import { parseLabelsJson } from "../../common/labels.js";
import { parseCapabilities, type AgentStore } from "../store/index.js";
import { actorOf, type AuditLog } from "./audit-log.js";

/** Longest hostname DNS allows; the column holds 255. */
const MAX_HOSTNAME = 253;

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
    if (!info || info.hostname.trim() === "") throw new ConnectError("info.hostname is required", Code.InvalidArgument);
    if (info.hostname.length > MAX_HOSTNAME)
      throw new ConnectError(`info.hostname is longer than ${MAX_HOSTNAME} characters`, Code.InvalidArgument);
    await this.issuer.verifyEnrollment(enrollmentToken);
    const agentId = randomUUID();
    const { credential, hash } = newAgentCredential(agentId);
    await this.agents.insert({
      id: agentId,
      hostname: info.hostname.trim(),
      os: info.os,
      agent_version: info.agentVersion,
      capabilities: JSON.stringify(info.capabilities),
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
      reason: info.hostname,
    });
    return { agentId, credential };
  }

  /** The agent an `authorization` header proves, or Unauthenticated / PermissionDenied. */
  async authenticate(authorization: string | null): Promise<AuthenticatedAgent> {
    const parsed = parseAgentCredential(bearerToken(authorization, "agent credential"));
    if (!parsed) throw new ConnectError("malformed agent credential: enroll the agent again", Code.Unauthenticated);
    const agent = await this.agents.get(parsed.agentId);
    if (!agent || !secretMatches(parsed.secret, agent.credential_hash)) {
      throw new ConnectError("unknown agent credential: enroll the agent again", Code.Unauthenticated);
    }
    if (agent.revoked_at !== null) {
      const reason = `agent ${agent.id} (${agent.hostname}) was revoked at ${new Date(agent.revoked_at).toISOString()}`;
      await this.audit.recordBestEffort({
        actor: actorOf.agent(agent.id),
        action: "agent.connect",
        outcome: "refused",
        agentId: agent.id,
        reason,
      });
      throw new ConnectError(reason, Code.PermissionDenied);
    }
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
