import { Code, ConnectError } from "@connectrpc/connect";
import { labelKeyProblem, labelsProblem, parseLabelsJson, type Labels } from "../../common/labels.js";
import type { Technician } from "../auth/claims.js";
import type { AgentRow, AgentStore } from "../store/index.js";
import { actorOf, type AuditLog } from "./audit-log.js";

/** Server-side labels: set by admins, shown beside the agent's own, winning a conflict. */
export class AgentLabels {
  constructor(
    private readonly agents: AgentStore,
    private readonly audit: AuditLog,
  ) {}

  async set(tech: Technician, agentId: string, set: Labels, remove: readonly string[]): Promise<AgentRow> {
    if (tech.role !== "admin")
      throw new ConnectError(
        `only the admin role may change agent labels; your token's role is ${tech.role}`,
        Code.PermissionDenied,
      );
    if (agentId === "") throw new ConnectError("agent_id is required", Code.InvalidArgument);
    for (const key of remove) {
      const problem = labelKeyProblem(key);
      if (problem) throw new ConnectError(`remove: ${problem}`, Code.InvalidArgument);
      if (Object.hasOwn(set, key))
        throw new ConnectError(`label ${key} is both in set and in remove: pick one`, Code.InvalidArgument);
    }
    const problem = labelsProblem(set);
    if (problem) throw new ConnectError(`set: ${problem}`, Code.InvalidArgument);
    const row = await this.agents.get(agentId);
    if (!row) throw new ConnectError(`no agent ${agentId}`, Code.NotFound);
    const labels = { ...parseLabelsJson(row.server_labels), ...set };
    for (const key of remove) delete labels[key];
    const merged = labelsProblem(labels);
    if (merged) throw new ConnectError(merged, Code.InvalidArgument);
    await this.agents.setServerLabels(agentId, labels);
    await this.audit.record({
      actor: actorOf.technician(tech.subject),
      action: "agent.labels",
      outcome: "ok",
      agentId,
      reason: JSON.stringify({ set, remove }),
    });
    return (await this.agents.get(agentId))!;
  }
}
