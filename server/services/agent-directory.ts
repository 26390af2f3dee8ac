import { Code, ConnectError } from "@connectrpc/connect";
import type { Heartbeat } from "../../gen/rmm/v1/agent_service_pb.js";
import { effectiveLabels, parseLabelsJson } from "../../common/labels.js";
import { globToRegExp } from "../../common/glob.js";
import type { Technician } from "../auth/claims.js";
import { LabelSelector } from "../labels/label-selector.js";
import type { AgentRow, AgentStore, SessionRow, SessionStore } from "../store/index.js";
import type { AgentConnection } from "./agent-connection.js";
import type { AgentRegistry } from "./agent-registry.js";
import { AGENT_INFO_LIMITS } from "./agent-info-check.js";

export interface AgentListing {
  row: AgentRow;
  /** Present while the agent holds a stream to this server. */
  connection: AgentConnection | undefined;
  /** Cluster mode: the node holding the agent's stream, this one or another; undefined when offline or not clustered. */
  nodeId?: string;
  /** Cluster mode: what the other node holding the agent's stream knows of it (unset if it did not answer). */
  held?: HeldFacts;
  /** A live session the viewer may see: their own, or for admins any (their own first). */
  liveSessionId: string | undefined;
  /** Every live session on the agent; `sessionId` empty unless the viewer owns it or is an admin. */
  holders: Array<{ technician: string; sessionId: string; exclusive: boolean; state: SessionRow["state"] }>;
}

/** Page size when the caller names none, and the most a page may hold. */
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1_000;
/**
 * A page also ends before its agents' stored text passes this many bytes, so
 * no agent's data can make a listing too large to send (4 MiB): two agents
 * with 2.5 MB hostnames once broke ListAgents for every technician. 1 MiB.
 */
export const MAX_PAGE_BYTES = 1 << 20;
/** Room for an agent's ids, times and flags beside its text. */
const ROW_OVERHEAD_BYTES = 256;
/** Rows read per query while a filter skips agents that do not match. */
const SCAN_CHUNK = 1_000;

/** The labels an agent row answers selectors with. */
export function labelsOfRow(row: AgentRow): Record<string, string> {
  return effectiveLabels(parseLabelsJson(row.reported_labels), parseLabelsJson(row.server_labels));
}

/** Whether an agent row passes the label selector and hostname filter (exact, or a glob with * and ?). */
export function agentFilter(selector: string, hostname: string): ((row: AgentRow) => boolean) | undefined {
  const parsed = LabelSelector.parse(selector);
  if (hostname.length > AGENT_INFO_LIMITS.hostname)
    throw new ConnectError(
      `hostname filter is ${hostname.length} characters; no hostname is longer than ${AGENT_INFO_LIMITS.hostname}`,
      Code.InvalidArgument,
    );
  const host = hostname === "" ? undefined : globToRegExp(hostname);
  if (parsed.isEmpty && !host) return undefined;
  return (row) => (!host || host.test(row.hostname)) && parsed.matches(labelsOfRow(row));
}

/** What the node holding an agent's stream knows of it and the database does not. */
export interface HeldFacts {
  homeDirectory: string;
  lastMessageAt: number;
  health: Heartbeat | undefined;
  healthAt: number | undefined;
}

/** Cluster mode: which agents the whole fleet's nodes hold, from the database (agent_presence). */
export interface FleetPresence {
  /** Asked of the holding nodes: their agents' facts, by agent id (node id -> agent ids). */
  facts(byNode: ReadonlyMap<string, readonly string[]>): Promise<Map<string, HeldFacts>>;
  /** Of these agents, those a live node holds, with the node. */
  holders(agentIds: readonly string[]): Promise<Map<string, string>>;
  /** Agents a live node holds, in id order after `afterId`. */
  onlineAfter(afterId: string, limit: number): Promise<string[]>;
}

/** Listing agents a page at a time, joined with who is online right now (on any node, in cluster mode). */
export class AgentDirectory {
  constructor(
    private readonly agents: AgentStore,
    private readonly sessions: SessionStore,
    private readonly registry: AgentRegistry,
    private readonly fleet?: FleetPresence,
  ) {}

  async list(opts: {
    viewer: Technician;
    onlineOnly: boolean;
    pageSize: number;
    pageToken: string;
    selector?: string;
    hostname?: string;
  }): Promise<{ agents: AgentListing[]; nextPageToken: string }> {
    const filter = agentFilter(opts.selector ?? "", opts.hostname ?? "");
    const size = opts.pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(opts.pageSize, MAX_PAGE_SIZE);
    const afterId = decodePageToken(opts.pageToken);
    let rows: AgentRow[];
    if (filter) {
      rows = await this.scan(afterId, size + 1, opts.onlineOnly, filter);
    } else if (opts.onlineOnly) {
      // Page through the online set first, so the query names at most one page of ids.
      const ids = this.fleet
        ? await this.fleet.onlineAfter(afterId, size + 1)
        : this.registry
            .ids()
            .filter((id) => id > afterId)
            .sort()
            .slice(0, size + 1);
      rows = await this.agents.list({ afterId, limit: size + 1, ids });
    } else {
      rows = await this.agents.list({ afterId, limit: size + 1 });
    }
    const page = fitBytes(rows.slice(0, size));
    const last = page.at(-1);
    return {
      agents: await this.listingsOf(page, opts.viewer),
      nextPageToken: rows.length > page.length && last ? encodePageToken(last.id) : "",
    };
  }

  /** Rows joined with who is online and who holds sessions; session ids only for their owner and admins. */
  async listingsOf(rows: AgentRow[], viewer: Technician): Promise<AgentListing[]> {
    const live = new Map<string, SessionRow[]>();
    for (const s of await this.sessions.liveForAgents(rows.map((r) => r.id)))
      live.set(s.agent_id, [...(live.get(s.agent_id) ?? []), s]);
    const visible = (s: SessionRow) => s.technician === viewer.subject || viewer.role === "admin";
    const nodes = this.fleet ? await this.fleet.holders(rows.map((r) => r.id)) : new Map<string, string>();
    const elsewhere = new Map<string, string[]>();
    for (const [agentId, node] of nodes)
      if (!this.registry.get(agentId)) elsewhere.set(node, [...(elsewhere.get(node) ?? []), agentId]);
    const held = this.fleet && elsewhere.size > 0 ? await this.fleet.facts(elsewhere) : new Map<string, HeldFacts>();
    return rows.map((row) => {
      const sessions = live.get(row.id) ?? [];
      const mine = sessions.find((s) => s.technician === viewer.subject) ?? sessions.find(visible);
      return {
        row,
        connection: this.registry.get(row.id),
        nodeId: nodes.get(row.id),
        held: held.get(row.id),
        liveSessionId: mine?.id,
        holders: sessions.map((s) => ({
          technician: s.technician,
          sessionId: visible(s) ? s.id : "",
          exclusive: s.exclusive === 1,
          state: s.state,
        })),
      };
    });
  }

  /** Reads agents in id order, a chunk at a time, until `limit` pass the filter or none are left. */
  async scan(
    afterId: string,
    limit: number,
    onlineOnly: boolean,
    filter: (row: AgentRow) => boolean,
  ): Promise<AgentRow[]> {
    const out: AgentRow[] = [];
    for (let after = afterId; out.length < limit;) {
      const chunk = await this.agents.list({ afterId: after, limit: SCAN_CHUNK });
      const held = onlineOnly && this.fleet ? await this.fleet.holders(chunk.map((r) => r.id)) : undefined;
      const online = (id: string) => (held ? held.has(id) : this.registry.get(id) !== undefined);
      for (const row of chunk) if ((!onlineOnly || online(row.id)) && filter(row) && out.length < limit) out.push(row);
      if (chunk.length < SCAN_CHUNK) break;
      after = chunk.at(-1)!.id;
    }
    return out;
  }
}

/** The leading rows that fit MAX_PAGE_BYTES; at least one, so paging always moves on. */
function fitBytes(rows: AgentRow[]): AgentRow[] {
  let bytes = 0;
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    bytes += ROW_OVERHEAD_BYTES;
    for (const text of [row.hostname, row.os, row.agent_version, row.capabilities]) bytes += Buffer.byteLength(text);
    if (bytes > MAX_PAGE_BYTES && i > 0) return rows.slice(0, i);
  }
  return rows;
}

function encodePageToken(afterId: string): string {
  return Buffer.from(JSON.stringify({ after: afterId })).toString("base64url");
}

function decodePageToken(token: string): string {
  if (token === "") return "";
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    if (typeof parsed === "object" && parsed !== null && typeof (parsed as { after?: unknown }).after === "string") {
      return (parsed as { after: string }).after;
    }
  } catch {
    // Falls through to the same error as a well-formed token of the wrong shape.
  }
  throw new ConnectError(
    "page_token is not one this server issued: pass next_page_token from a previous response",
    Code.InvalidArgument,
  );
}
