import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl, type Transport } from "@connectrpc/connect";
import type { Logger } from "../../common/logger.js";
import type { TunnelService } from "../../gen/rmm/v1/tunnel_service_pb.js";
import type { ClusterStats } from "../observability/server-metrics.js";
import type { FleetPresence } from "../services/agent-directory.js";
import type { AgentRegistry } from "../services/agent-registry.js";
import type { SessionService } from "../services/session-service.js";
import { NodeStore, type Db, type SessionStore } from "../store/index.js";
import { AgentPlacement } from "./agent-placement.js";
import { CallForwarder } from "./call-forwarder.js";
import { CallResponder } from "./call-responder.js";
import { AgentFacts } from "./agent-facts.js";
import { CallRouter } from "./call-router.js";
import { JobBridge } from "./job-bridge.js";
import { natsConnectionOptions, withoutCredentials, type ClusterConfig } from "./cluster-config.js";
import { ClusterClock } from "./cluster-clock.js";
import { ClusterLink } from "./cluster-link.js";
import { NodeLease } from "./node-lease.js";
import { NodeReaper, type Reclaimed } from "./node-reaper.js";
import { routedTunnelService } from "./routed-tunnel-service.js";

/** Reapers sweep this many times per lease: a dead node's sessions close within ttl + ttl / 3 of its last renewal. */
const SWEEPS_PER_LEASE = 3;

export interface ClusterServeDeps {
  registry: AgentRegistry;
  sessions: SessionService;
  sessionStore: SessionStore;
  /** The services other nodes may route here, and this node's own handlers for them (never routed again). */
  services: readonly DescService[];
  localTransport: Transport;
  maxMessageBytes: number;
}

/**
 * One node of a cluster: its lease, the reaper of dead nodes, the NATS link
 * and both ends of routed calls. Created before the services (they record
 * agent placement through it), started once they exist.
 */
export class ClusterNode {
  readonly nodes: NodeStore;
  readonly placement: AgentPlacement;
  /** The whole fleet's online agents, for listings (agent_presence joined with live leases). */
  readonly fleet: FleetPresence;
  readonly link: ClusterLink;
  /** Fleet jobs across nodes: news and step changes for the other nodes' runners and watchers. */
  readonly jobs: JobBridge;
  /** The database's clock as this host reads it: every lease time is in it, so hosts' clocks may differ. */
  readonly clock: ClusterClock;
  private forwarder: CallForwarder;
  private lease: NodeLease | undefined;
  private reaper: NodeReaper | undefined;
  private registry: AgentRegistry | undefined;
  private responder: CallResponder | undefined;
  private facts: AgentFacts | undefined;
  /** The lease's and the clock's store, on the lease's own pool. */
  private readonly leaseNodes: NodeStore;

  /** `leaseDb` is the same database on a pool of its own (LEASE_POOL_SIZE), closed with the node. */
  constructor(
    readonly config: ClusterConfig,
    private readonly db: Db,
    private readonly leaseDb: Db,
    private readonly log: Logger,
    maxMessageBytes: number,
    private readonly onReclaimed?: (r: Reclaimed) => void,
  ) {
    this.nodes = new NodeStore(db);
    // The lease's own pool: a clock read queued behind agents' statements would skew the offset it measures.
    this.leaseNodes = new NodeStore(leaseDb);
    this.clock = new ClusterClock(() => this.leaseNodes.databaseNow(), log.child({ component: "cluster" }));
    const now = () => this.clock.now();
    this.placement = new AgentPlacement(this.nodes, config.nodeId, log);
    const nodes = this.nodes;
    this.fleet = {
      // Listings are answered only once route() has made the facts (the node serves nothing before).
      facts: async (byNode) => (this.facts ? this.facts.ask(byNode) : new Map()),
      holders: (ids) => nodes.holders(ids, now()),
      onlineAfter: (afterId, limit) => nodes.onlineAfter(afterId, limit, now()),
    };
    this.link = new ClusterLink(natsConnectionOptions(config), log.child({ component: "cluster" }));
    this.forwarder = new CallForwarder(this.link, { nodeId: config.nodeId, maxMessageBytes });
    this.jobs = new JobBridge(this.link, this.nodes, config.nodeId, log.child({ component: "cluster" }), now);
  }

  get nodeId(): string {
    return this.config.nodeId;
  }

  /** Before this node's own leftovers are closed: its earlier run's agent presence goes. */
  async forgetEarlierRun(): Promise<void> {
    await this.nodes.forget(this.nodeId);
  }

  /** For the metrics: the link's state and the calls routed through this node now. */
  stats(): ClusterStats {
    return {
      linkUp: this.link.state === "up",
      forwarding: this.forwarder.size,
      serving: this.responder?.size ?? 0,
    };
  }

  /** The URL this node listens at, written with the next renewal. */
  listeningAt(url: string): void {
    if (this.lease) this.lease.address = url;
  }

  /**
   * TunnelService as this node serves it: routed to the agent's node where
   * needed. Other nodes' calls are taken once start() joins the link.
   */
  route(local: ServiceImpl<typeof TunnelService>, deps: ClusterServeDeps): ServiceImpl<typeof TunnelService> {
    const { nodeId } = this.config;
    this.registry = deps.registry;
    this.facts = new AgentFacts(this.link, deps.registry, nodeId, this.log.child({ component: "cluster" }));
    const router = new CallRouter({
      nodeId,
      registry: deps.registry,
      sessions: deps.sessions,
      sessionStore: deps.sessionStore,
      nodes: this.nodes,
      now: () => this.clock.now(),
    });
    const responder = new CallResponder({
      nodeId,
      maxMessageBytes: deps.maxMessageBytes,
      services: deps.services,
      transport: deps.localTransport,
      log: this.log.child({ component: "cluster" }),
    });
    this.responder = responder;
    this.link.onUp((nc) => responder.listen(nc));
    this.link.onDown(() => responder.linkDown());
    return routedTunnelService(local, router, this.forwarder);
  }

  /**
   * Before this node listens: takes the lease (so no other node counts a
   * session opened here as orphaned), closes what dead nodes left, joins the
   * link. `address` is the configured listen address; listeningAt() names the URL.
   */
  async start(address: string): Promise<void> {
    const { nodeId } = this.config;
    const registry = this.registry;
    if (!registry) throw new Error("ClusterNode.start before route");
    this.lease = new NodeLease(this.leaseNodes, nodeId, address, this.log, this.clock, this.config.leaseMs);
    this.lease.onLapsed(() => {
      for (const conn of registry.all())
        conn.end(new ConnectError(`server node ${nodeId} lost its cluster lease; reconnect`, Code.Unavailable));
    });
    await this.lease.start();
    this.reaper = new NodeReaper(
      this.db,
      this.nodes,
      nodeId,
      this.log,
      Math.max(100, Math.floor(this.config.leaseMs / SWEEPS_PER_LEASE)),
      () => this.clock.now(),
      this.onReclaimed,
    );
    await this.reaper.sweep();
    this.reaper.start();
    this.link.start();
    this.log.info(
      { nodeId, nats: this.config.servers.map(withoutCredentials), leaseMs: this.config.leaseMs },
      "cluster node started",
    );
  }

  /** After this node's sessions are closed: stops routing and gives the lease up. */
  async close(): Promise<void> {
    await this.reaper?.stop();
    await this.link.close();
    await this.placement.flush();
    try {
      await this.lease?.stop();
    } finally {
      await this.leaseDb.destroy();
    }
  }
}
