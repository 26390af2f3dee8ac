import { Code, ConnectError } from "@connectrpc/connect";
import type { Technician } from "../auth/claims.js";
import type { AgentStore } from "../store/index.js";
import type { AgentDirectory, AgentListing } from "./agent-directory.js";
import type { AgentRegistry } from "./agent-registry.js";
import { actorOf, type AuditLog } from "./audit-log.js";

/** Listing one agent, and removing stale enrollments (admins only). */
export class AgentRecords {
  constructor(
    private readonly agents: AgentStore,
    private readonly directory: AgentDirectory,
    private readonly registry: AgentRegistry,
    private readonly audit: AuditLog,
  ) {}

  async get(viewer: Technician, id: string): Promise<AgentListing> {
    requireAgentId(id);
    const row = await this.agents.get(id);
    if (!row) throw new ConnectError(`no agent ${id}: ListAgents lists the enrolled ones`, Code.NotFound);
    const [listing] = await this.directory.listingsOf([row], viewer);
    return listing!;
  }

  async delete(tech: Technician, id: string): Promise<void> {
    requireAgentId(id);
    const actor = actorOf.technician(tech.subject);
    if (tech.role !== "admin") {
      await this.audit.record({
        actor,
        action: "agent.delete",
        outcome: "refused",
        agentId: id,
        reason: "not an admin",
      });
      throw new ConnectError("deleting an agent needs the admin role", Code.PermissionDenied);
    }
    if (this.registry.get(id))
      throw new ConnectError(
        `agent ${id} is connected: revoke it first (rmm-server revoke-agent ${id}) or wait until it is offline`,
        Code.FailedPrecondition,
      );
    if (!(await this.agents.delete(id)))
      throw new ConnectError(`no agent ${id}: ListAgents lists the enrolled ones`, Code.NotFound);
    await this.audit.record({ actor, action: "agent.delete", outcome: "ok", agentId: id });
  }
}

/** Agent ids are at most 64 characters (the column); anything else is a mistake worth naming before any query. */
function requireAgentId(id: string): void {
  if (!id) throw new ConnectError("agent_id is empty: give an agent id from ListAgents", Code.InvalidArgument);
  if (id.length > 64)
    throw new ConnectError(`agent_id is ${id.length} characters; ids are at most 64`, Code.InvalidArgument);
}
