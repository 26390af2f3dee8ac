import type { Logger } from "../../common/logger.js";
import { actorOf } from "../services/audit-log.js";
import {
  CommandAuditStore,
  FileTransferStore,
  JobStore,
  NodeStore,
  SessionStore,
  isStoreUnavailable,
  type Db,
} from "../store/index.js";

/** What one reclaim closed. */
export interface Reclaimed {
  nodeId: string;
  sessions: number;
  commands: number;
  transfers: number;
  steps: number;
}

/**
 * Closes what dead nodes left: their live sessions (as `node_lost`), their
 * sessions' running commands and file transfers, and their running job steps
 * (as errors: never run twice); then drops their lease and agent presence.
 * Several survivors may reap one node at once: every write is conditional on
 * the row still being live, so each row is closed, and audited, once.
 */
export class NodeReaper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly db: Db,
    private readonly nodes: NodeStore,
    private readonly nodeId: string,
    private readonly log: Logger,
    private readonly intervalMs: number,
    /** The cluster's time base (the database's clock); lease expiries are compared in it. */
    private readonly now: () => number,
    private readonly onReclaimed: (r: Reclaimed) => void = () => {},
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.sweepQuietly(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One pass: every node whose lease expired, or that rows name but holds no lease. */
  async sweep(): Promise<Reclaimed[]> {
    const dead = new Set([...(await this.nodes.expired(this.now())), ...(await this.nodes.unleasedOwners())]);
    dead.delete(this.nodeId);
    const done: Reclaimed[] = [];
    for (const id of dead) {
      const r = await this.reclaim(id);
      if (r) done.push(r);
    }
    return done;
  }

  private async sweepQuietly(): Promise<void> {
    if (this.running) return;
    this.running = this.sweep()
      .then(() => undefined)
      .catch((err: unknown) => {
        const level = isStoreUnavailable(err) ? "warn" : "error";
        this.log[level]({ err: String(err) }, "cluster: reclaiming dead nodes failed; the next sweep retries");
      })
      .finally(() => (this.running = undefined));
    await this.running;
  }

  private async reclaim(nodeId: string): Promise<Reclaimed | undefined> {
    const at = this.now();
    // Restarted meanwhile (same id): its own start closed its earlier run's rows, and what it holds now is live.
    const lease = await this.nodes.get(nodeId);
    if (lease && lease.expires_at >= at) return undefined;
    // Sessions opened after the lease expired are not the dead run's (a restart under the same id opened them),
    // nor the commands and transfers in them, nor job steps started after it.
    const cutoff = lease?.expires_at ?? at;
    const why = `node ${nodeId} was lost (its lease expired)`;
    // Commands and transfers first: they are found through their sessions' node, with the sessions' cut-off.
    const commands = await new CommandAuditStore(this.db, nodeId).failRunning(at, cutoff);
    const transfers = await new FileTransferStore(this.db, nodeId).failRunning(why, cutoff);
    const steps = await new JobStore(this.db, nodeId).failRunning(at, why, cutoff);
    const store = new SessionStore(this.db, nodeId);
    const sessions = await store.close(await store.ownLiveIds(cutoff), {
      reason: "node_lost",
      message: why,
      at,
      actor: actorOf.system,
      outcome: "error",
    });
    await this.nodes.forget(nodeId);
    const r = { nodeId, sessions, commands, transfers, steps };
    this.log.warn({ ...r, by: this.nodeId }, "cluster: closed what a lost node held");
    this.onReclaimed(r);
    return r;
  }
}
