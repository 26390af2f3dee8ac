import { fromJson, toJson, type JsonValue } from "@bufbuild/protobuf";
import type { NatsConnection, Subscription } from "nats";
import type { Logger } from "../../common/logger.js";
import { HeartbeatSchema } from "../../gen/rmm/v1/agent_service_pb.js";
import type { HeldFacts } from "../services/agent-directory.js";
import { decodeJson, encodeJson } from "./call-envelope.js";
import type { ClusterLink } from "./cluster-link.js";

/** Where a node answers what its agents' streams told it. */
export function factsSubject(nodeId: string): string {
  return `rmm.cluster.${nodeId}.facts`;
}

/**
 * Agents per question: a page of listings (at most 1,000) is asked in parts,
 * so each answer (a heartbeat and a home directory each, a few hundred bytes)
 * stays within the 64 KiB the cluster's messages keep to.
 */
const IDS_PER_REQUEST = 100;

/**
 * How long a listing waits for another node's answer. A node that does not
 * answer in time leaves its agents' health and home directory unset in that
 * listing rather than failing or holding it. Defaults to 2 s.
 */
export const FACTS_TIMEOUT_MS = 2_000;

interface WireFacts {
  homeDirectory: string;
  lastMessageAt: number;
  health?: JsonValue;
  healthAt?: number;
}

/** What this node's own streams tell it of one agent: what its registry holds. */
export interface HeldAgents {
  get(agentId: string): (HeldFacts & { agentId: string }) | undefined;
}

/**
 * What only the node holding an agent's stream knows (its last heartbeat,
 * the home directory from its hello), asked of that node for listings answered
 * elsewhere: heartbeats arrive far too often to write to the shared database.
 */
export class AgentFacts {
  private subscription: Subscription | undefined;

  constructor(
    private readonly link: ClusterLink,
    private readonly registry: HeldAgents,
    private readonly nodeId: string,
    private readonly log: Logger,
  ) {
    link.onUp((nc) => this.listen(nc));
  }

  /** The facts other nodes hold about these agents; agents whose node did not answer are left out. */
  async ask(byNode: ReadonlyMap<string, readonly string[]>): Promise<Map<string, HeldFacts>> {
    const out = new Map<string, HeldFacts>();
    const nc = this.link.connection;
    if (!nc) return out;
    const asks: Array<Promise<void>> = [];
    for (const [node, ids] of byNode)
      for (let i = 0; i < ids.length; i += IDS_PER_REQUEST)
        asks.push(
          nc
            .request(factsSubject(node), encodeJson(ids.slice(i, i + IDS_PER_REQUEST)), { timeout: FACTS_TIMEOUT_MS })
            .then((reply) => {
              const facts = decodeJson<Record<string, WireFacts>>(reply.data, "agent facts");
              for (const [id, f] of Object.entries(facts))
                out.set(id, {
                  homeDirectory: f.homeDirectory,
                  lastMessageAt: f.lastMessageAt,
                  health: f.health === undefined ? undefined : fromJson(HeartbeatSchema, f.health),
                  healthAt: f.healthAt,
                });
            })
            .catch((err: unknown) =>
              this.log.debug({ err: String(err), node }, "cluster: no agent facts from a node; listed without them"),
            ),
        );
    await Promise.all(asks);
    return out;
  }

  private listen(nc: NatsConnection): void {
    this.subscription?.unsubscribe();
    this.subscription = nc.subscribe(factsSubject(this.nodeId), {
      callback: (err, msg) => {
        if (err) return this.log.warn({ err: err.message }, "cluster: agent facts subscription failed");
        let ids: unknown;
        try {
          ids = decodeJson<unknown>(msg.data, "agent facts request");
        } catch (e) {
          return this.log.warn({ err: String(e) }, "cluster: agent facts request ignored");
        }
        const facts: Record<string, WireFacts> = {};
        if (Array.isArray(ids))
          for (const id of ids.slice(0, IDS_PER_REQUEST)) {
            const conn = typeof id === "string" ? this.registry.get(id) : undefined;
            if (!conn) continue;
            facts[conn.agentId] = {
              homeDirectory: conn.homeDirectory,
              lastMessageAt: conn.lastMessageAt,
              ...(conn.health && { health: toJson(HeartbeatSchema, conn.health), healthAt: conn.healthAt }),
            };
          }
        msg.respond(encodeJson(facts));
      },
    });
  }
}
