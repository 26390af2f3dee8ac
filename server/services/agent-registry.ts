import { Code, ConnectError } from "@connectrpc/connect";
import type { AgentConnection } from "./agent-connection.js";

/** The live agent streams of this server process: at most one per agent id. */
export class AgentRegistry {
  private readonly connections = new Map<string, AgentConnection>();

  get size(): number {
    return this.connections.size;
  }

  get(agentId: string): AgentConnection | undefined {
    return this.connections.get(agentId);
  }

  ids(): string[] {
    return [...this.connections.keys()];
  }

  all(): IterableIterator<AgentConnection> {
    return this.connections.values();
  }

  /**
   * The newer stream wins: an agent that reconnects before the server noticed
   * its old stream die must not be locked out by it. The older stream is ended
   * with a status that says why.
   */
  register(conn: AgentConnection): AgentConnection | undefined {
    const previous = this.connections.get(conn.agentId);
    this.connections.set(conn.agentId, conn);
    previous?.end(new ConnectError("replaced by a newer connection from the same agent", Code.Aborted));
    return previous;
  }

  /** Removes the stream if it is still the agent's current one. */
  unregister(conn: AgentConnection): boolean {
    if (this.connections.get(conn.agentId) !== conn) return false;
    this.connections.delete(conn.agentId);
    return true;
  }

  /** Ends every stream that has been silent for longer than `offlineAfterMs`. */
  endSilent(now: number, offlineAfterMs: number): AgentConnection[] {
    const silent: AgentConnection[] = [];
    for (const conn of this.connections.values()) {
      if (now - conn.lastMessageAt > offlineAfterMs) {
        silent.push(conn);
        conn.end(
          new ConnectError(
            `no heartbeat for ${Math.round((now - conn.lastMessageAt) / 1000)} s; reconnect`,
            Code.DeadlineExceeded,
          ),
        );
      }
    }
    return silent;
  }
}
