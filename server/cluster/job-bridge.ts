import type { NatsConnection, Subscription } from "nats";
import type { Logger } from "../../common/logger.js";
import type { JobEvent } from "../jobs/job-events.js";
import type { JobNews, JobPeers } from "../jobs/job-runner.js";
import type { NodeStore } from "../store/index.js";
import { decodeJson, encodeJson } from "./call-envelope.js";
import type { ClusterLink } from "./cluster-link.js";

/** Every node publishes and hears job news and step changes here. */
export const JOBS_SUBJECT = "rmm.cluster.jobs";

/** One message on JOBS_SUBJECT: news of a job, or a change a node stored (for WatchJob on every node). */
type JobWire = { from: string } & ({ news: JobNews } | { jobId: string; event: JobEvent });

/** What the bridge hands on to this node's job runner. */
export interface JobListener {
  heard(news: JobNews): Promise<void>;
  heardEvent(jobId: string, event: JobEvent): void;
}

/**
 * Fleet jobs across nodes: each node runs the steps of the agents it holds,
 * and this bridge tells the other nodes what happened here (a job created or
 * cancelled, a step's stored change) so their runners and WatchJob callers
 * learn of it at once. It is best effort over core NATS: a message lost with
 * the link only delays a runner until it next reconciles with the database,
 * which stays the one source of truth (RECONCILE_MS).
 */
export class JobBridge implements JobPeers {
  private subscription: Subscription | undefined;
  private listener: JobListener | undefined;

  constructor(
    private readonly link: ClusterLink,
    private readonly nodes: NodeStore,
    private readonly nodeId: string,
    private readonly log: Logger,
    /** The cluster's time base, which lease expiries are compared in. */
    private readonly now: () => number,
  ) {
    link.onUp((nc) => this.listen(nc));
  }

  /** The runner that hears the other nodes (set once it exists; news before that is left to its reconcile). */
  attach(listener: JobListener): void {
    this.listener = listener;
  }

  announce(news: JobNews): void {
    this.publish({ from: this.nodeId, news });
  }

  /** A change this node stored, for the other nodes' watchers and runners. */
  relay(jobId: string, event: JobEvent): void {
    this.publish({ from: this.nodeId, jobId, event });
  }

  async online(agentIds: readonly string[]): Promise<Set<string>> {
    return new Set((await this.nodes.holders(agentIds, this.now())).keys());
  }

  private publish(wire: JobWire): void {
    const nc = this.link.connection;
    if (!nc) return;
    try {
      nc.publish(JOBS_SUBJECT, encodeJson(wire));
    } catch (err) {
      // Closed under us: the other nodes reconcile with the database instead.
      this.log.debug({ err: String(err) }, "cluster: job news not sent");
    }
  }

  private listen(nc: NatsConnection): void {
    this.subscription?.unsubscribe();
    this.subscription = nc.subscribe(JOBS_SUBJECT, {
      callback: (err, msg) => {
        if (err) return this.log.warn({ err: err.message }, "cluster: job news subscription failed");
        const listener = this.listener;
        if (!listener) return;
        let wire: JobWire;
        try {
          wire = decodeJson<JobWire>(msg.data, "job news");
        } catch (e) {
          return this.log.warn({ err: String(e) }, "cluster: job news ignored");
        }
        if (wire.from === this.nodeId) return;
        if ("news" in wire)
          listener
            .heard(wire.news)
            .catch((e: unknown) =>
              this.log.warn(
                { err: String(e), jobId: wire.news.jobId },
                "cluster: could not follow a job; reconcile retries",
              ),
            );
        else listener.heardEvent(wire.jobId, wire.event);
      },
    });
  }
}
