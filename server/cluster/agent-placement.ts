import type { Logger } from "../../common/logger.js";
import type { AgentPlacementListener } from "../services/agent-presence.js";
import type { NodeStore } from "../store/index.js";

/**
 * Writes which node holds each agent's stream (agent_presence), so any node
 * can route a technician's call to it. Writes are not awaited by the stream:
 * a database hiccup must not hold an agent's connect, and a row that is late
 * or missing only makes calls through other nodes fail until the agent's
 * next connect (this node still serves it).
 */
export class AgentPlacement implements AgentPlacementListener {
  constructor(
    private readonly nodes: NodeStore,
    private readonly nodeId: string,
    private readonly log: Logger,
  ) {}

  placed(agentId: string, connectedAt: number): void {
    this.nodes
      .placeAgent(agentId, this.nodeId, connectedAt)
      .catch((err: unknown) =>
        this.log.warn(
          { err: String(err), agentId },
          "cluster: could not record the agent's node; other nodes cannot route to it",
        ),
      );
  }

  left(agentId: string, connectedAt: number): void {
    this.nodes
      .unplaceAgent(agentId, this.nodeId, connectedAt)
      .catch((err: unknown) =>
        this.log.warn({ err: String(err), agentId }, "cluster: could not clear the agent's node; its lease bounds it"),
      );
  }
}
