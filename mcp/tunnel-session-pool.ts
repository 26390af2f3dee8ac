import { Code, ConnectError } from "@connectrpc/connect";
import type { Agent } from "../gen/rmm/v1/tunnel_service_pb.js";
import type { SessionScope } from "./session-scope.js";

interface Held {
  sessionId: Promise<string>;
  /** Tool calls and running commands using the session now. */
  users: number;
  /** Ends the scope's work: the scope stops holding the session (the server releases it after its grace). */
  release(): void;
  /** Settles once the scope's work has ended. */
  ended: Promise<unknown>;
}

/**
 * The tunnel sessions one MCP session holds, one per agent, shared by the
 * tool calls and running commands using it at the same time (one scope, so
 * one keepalive, per agent). A session is held through the SessionScope seam
 * while anything uses it and let go the moment nothing does: with ephemeral
 * sessions the server's grace is the idle time, so a call soon after gets the
 * same session back from the server, and a session nobody uses is released
 * by the server rather than closed here (another command of the technician
 * may be using it). When the MCP session ends nothing new is held.
 */
export class TunnelSessionPool {
  private readonly held = new Map<string, Held>();
  private closing = false;

  constructor(private readonly scope: SessionScope) {}

  /** Runs `work` on the agent's session, held until `work` settles. */
  async use<T>(agent: Agent, work: (sessionId: string) => Promise<T>): Promise<T> {
    const lease = await this.acquire(agent);
    try {
      return await work(lease.sessionId);
    } catch (err) {
      // The session ended under us (agent gone, closed elsewhere): the next call opens a fresh one.
      if (err instanceof ConnectError && isSessionGone(err)) this.evict(agent.id);
      throw err;
    } finally {
      lease.release();
    }
  }

  /** A session for work that outlives one tool call (a running command); call release() when it ends. */
  async acquire(agent: Agent): Promise<{ sessionId: string; release(): void }> {
    if (this.closing) throw new ConnectError("the MCP session is closing", Code.Canceled);
    let held = this.held.get(agent.id);
    if (!held) {
      held = this.open(agent);
      this.held.set(agent.id, held);
    }
    held.users++;
    const current = held;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      current.users--;
      if (current.users === 0) {
        if (this.held.get(agent.id) === current) this.held.delete(agent.id);
        current.release();
      }
    };
    try {
      return { sessionId: await current.sessionId, release };
    } catch (err) {
      release();
      throw err;
    }
  }

  /** Holds nothing new, lets go of every session and waits until their scopes have ended. */
  async close(): Promise<void> {
    this.closing = true;
    const ended = [...this.held.values()].map((h) => h.ended);
    for (const id of [...this.held.keys()]) this.evict(id);
    await Promise.allSettled(ended);
  }

  private open(agent: Agent): Held {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let opened!: (id: string) => void;
    const sessionId = new Promise<string>((r) => (opened = r));
    const ended = this.scope(agent, (id) => {
      opened(id);
      return released;
    });
    const held: Held = {
      // A scope that fails before opening (agent offline, refused) fails the waiting callers.
      sessionId: Promise.race([sessionId, ended.then(() => Promise.reject(new Error("session ended")))]),
      users: 0,
      release,
      ended: ended.catch(() => undefined),
    };
    ended.catch(() => {
      if (this.held.get(agent.id) === held) this.held.delete(agent.id);
    });
    return held;
  }

  /**
   * Stops holding the agent's session now (calls still working keep it open on
   * the server through their channels); the next call holds one afresh.
   */
  private evict(agentId: string): void {
    const held = this.held.get(agentId);
    if (!held) return;
    this.held.delete(agentId);
    held.release();
  }
}

function isSessionGone(err: ConnectError): boolean {
  return (err.code === Code.FailedPrecondition || err.code === Code.NotFound) && /session/i.test(err.rawMessage);
}
