import { isUuid } from "../../common/ids.js";
import type { AgentRegistry } from "../services/agent-registry.js";
import type { SessionService } from "../services/session-service.js";
import type { NodeStore, SessionStore } from "../store/index.js";

export interface CallRouterDeps {
  nodeId: string;
  registry: AgentRegistry;
  sessions: SessionService;
  sessionStore: SessionStore;
  nodes: NodeStore;
  /** The cluster's time base, which lease expiries are compared in. */
  now: () => number;
}

/**
 * Where a technician's call must run: here (undefined) or on the node that
 * holds the agent's stream. Anything this node cannot place (a malformed id,
 * a closed or unknown session, an offline agent) runs here, where the local
 * handlers give the answer they always give.
 */
export class CallRouter {
  constructor(private readonly deps: CallRouterDeps) {}

  /** The node serving a live session, if not this one. */
  async nodeForSession(sessionId: string): Promise<string | undefined> {
    if (!isUuid(sessionId) || this.deps.sessions.lifecycle.get(sessionId)) return undefined;
    const row = await this.deps.sessionStore.get(sessionId);
    if (!row || row.state === "closed" || row.node_id === null || row.node_id === this.deps.nodeId) return undefined;
    return row.node_id;
  }

  /** The node holding the agent's stream, if not this one. */
  async nodeForAgent(agentId: string): Promise<string | undefined> {
    if (!isUuid(agentId) || this.deps.registry.get(agentId)) return undefined;
    const holder = await this.deps.nodes.holderOf(agentId, this.deps.now());
    return holder === this.deps.nodeId ? undefined : holder;
  }
}
