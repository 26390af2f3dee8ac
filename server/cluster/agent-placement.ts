import type { Logger } from "../../common/logger.js";
import type { AgentPlacementListener } from "../services/agent-presence.js";
import type { EpochMs, NodeStore, PlacedStream } from "../store/index.js";

/** The last thing heard of an agent's stream on this node, not yet written. */
interface PendingPlacement {
  connectedAt: EpochMs;
  held: boolean;
}

/**
 * Writes which node holds each agent's stream (agent_presence), so any node
 * can route a technician's call to it. Writes are not awaited by the stream:
 * a database hiccup must not hold an agent's connect, and a row that is late
 * or missing only makes calls through other nodes fail until it is written
 * (this node still serves the agent).
 *
 * Writes are batched: what arrives while a write is under way goes in the
 * next one, one multi-row statement for the streams placed and one for those
 * that left. One statement per connect was thousands of commits a second in
 * a connect storm, queued ahead of every other statement of the node. A quiet
 * node writes at once (the next turn of the event loop); a busy one writes
 * bigger batches, as often as the database answers.
 */
export class AgentPlacement implements AgentPlacementListener {
  private pending = new Map<string, PendingPlacement>();
  private writing: Promise<void> | undefined;
  private scheduled = false;

  constructor(
    private readonly nodes: NodeStore,
    private readonly nodeId: string,
    private readonly log: Logger,
  ) {}

  placed(agentId: string, connectedAt: number): void {
    this.queue(agentId, { connectedAt, held: true });
  }

  left(agentId: string, connectedAt: number): void {
    this.queue(agentId, { connectedAt, held: false });
  }

  /** Waits for what is queued now to be written (or to have failed and been logged). */
  async flush(): Promise<void> {
    while (this.writing || this.pending.size > 0) {
      if (!this.writing) this.writeNext();
      await this.writing;
    }
  }

  private queue(agentId: string, p: PendingPlacement): void {
    // Only the latest word counts: a stream that came and went before its row was written is one delete.
    this.pending.delete(agentId);
    this.pending.set(agentId, p);
    if (this.writing || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (!this.writing) this.writeNext();
    });
  }

  private writeNext(): void {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    this.writing = this.write(batch).finally(() => {
      this.writing = undefined;
      if (this.pending.size > 0) this.writeNext();
    });
  }

  private async write(batch: Map<string, PendingPlacement>): Promise<void> {
    const held: PlacedStream[] = [];
    const gone: PlacedStream[] = [];
    for (const [agentId, p] of batch) (p.held ? held : gone).push({ agentId, connectedAt: p.connectedAt });
    try {
      if (held.length > 0) await this.nodes.placeAgents(held, this.nodeId);
    } catch (err) {
      this.log.warn(
        { err: String(err), agents: held.length },
        "cluster: could not record the agents' node; other nodes cannot route to them until they reconnect",
      );
    }
    try {
      if (gone.length > 0) await this.nodes.unplaceAgents(gone, this.nodeId);
    } catch (err) {
      this.log.warn(
        { err: String(err), agents: gone.length },
        "cluster: could not clear the agents' node; its lease bounds the stale rows",
      );
    }
  }
}
