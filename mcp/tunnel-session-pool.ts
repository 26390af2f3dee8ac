import { Code, ConnectError } from "@connectrpc/connect";
import type { Agent } from "../gen/rmm/v1/tunnel_service_pb.js";
import type { SessionScope } from "./session-scope.js";

/** A session no tool has used for this long is closed. Defaults to 5 min: an assistant thinks between calls. */
export const SESSION_IDLE_MS = 5 * 60_000;

interface Held {
  sessionId: Promise<string>;
  /** Tool calls and running commands using the session now. */
  users: number;
  idle: NodeJS.Timeout | undefined;
  /** Ends the scope's work, which closes the session (if the scope opened it). */
  release(): void;
  /** Settles once the scope has closed the session. */
  closed: Promise<unknown>;
}

/**
 * The tunnel sessions one MCP session holds, one per agent, shared by its
 * tool calls and running commands (an agent takes one session at a time).
 * Each is held open through the SessionScope seam while in use, closed after
 * an idle period, and every one is closed when the MCP session ends.
 */
export class TunnelSessionPool {
  private readonly held = new Map<string, Held>();
  private closing = false;

  constructor(
    private readonly scope: SessionScope,
    private readonly idleMs = SESSION_IDLE_MS,
  ) {}

  /** Runs `work` on the agent's session; the session stays held until the returned lease's work settles. */
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
    clearTimeout(held.idle);
    const current = held;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      current.users--;
      if (current.users === 0 && this.held.get(agent.id) === current) {
        current.idle = setTimeout(() => this.evict(agent.id), this.idleMs);
        current.idle.unref();
      }
    };
    try {
      return { sessionId: await current.sessionId, release };
    } catch (err) {
      release();
      throw err;
    }
  }

  /** Closes every session this pool holds and waits until they are closed. */
  async close(): Promise<void> {
    this.closing = true;
    const closed = [...this.held.values()].map((h) => h.closed);
    for (const id of [...this.held.keys()]) this.evict(id);
    await Promise.allSettled(closed);
  }

  private open(agent: Agent): Held {
    let release!: () => void;
    const releasedPromise = new Promise<void>((r) => (release = r));
    let opened!: (id: string) => void;
    const sessionId = new Promise<string>((r) => (opened = r));
    const closed = this.scope(agent, (id) => {
      opened(id);
      return releasedPromise;
    });
    const held: Held = {
      // A scope that fails before opening (agent offline, refused) fails the waiting callers.
      sessionId: Promise.race([sessionId, closed.then(() => Promise.reject(new Error("session closed")))]),
      users: 0,
      idle: undefined,
      release,
      closed: closed.catch(() => undefined),
    };
    closed.catch(() => {
      if (this.held.get(agent.id) === held) this.held.delete(agent.id);
    });
    return held;
  }

  private evict(agentId: string): void {
    const held = this.held.get(agentId);
    if (!held) return;
    this.held.delete(agentId);
    clearTimeout(held.idle);
    held.release();
  }
}

function isSessionGone(err: ConnectError): boolean {
  return (err.code === Code.FailedPrecondition || err.code === Code.NotFound) && /session/i.test(err.rawMessage);
}
