import { Code, ConnectError } from "@connectrpc/connect";
import type { Technician } from "../auth/claims.js";
import type { AgentRow, AgentStore, SessionRow, SessionStore } from "../store/index.js";
import type { AgentConnection } from "./agent-connection.js";
import type { AgentRegistry } from "./agent-registry.js";

export interface AgentListing {
  row: AgentRow;
  /** Present while the agent holds a stream to this server. */
  connection: AgentConnection | undefined;
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

/** Listing agents a page at a time, joined with who is online right now. */
export class AgentDirectory {
  constructor(
    private readonly agents: AgentStore,
    private readonly sessions: SessionStore,
    private readonly registry: AgentRegistry,
  ) {}

  async list(opts: {
    viewer: Technician;
    onlineOnly: boolean;
    pageSize: number;
    pageToken: string;
  }): Promise<{ agents: AgentListing[]; nextPageToken: string }> {
    const size = opts.pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(opts.pageSize, MAX_PAGE_SIZE);
    const afterId = decodePageToken(opts.pageToken);
    let rows: AgentRow[];
    if (opts.onlineOnly) {
      // Page through the in-memory set first, so the query names at most one page of ids.
      const ids = this.registry
        .ids()
        .filter((id) => id > afterId)
        .sort()
        .slice(0, size + 1);
      rows = await this.agents.list({ afterId, limit: size + 1, ids });
    } else {
      rows = await this.agents.list({ afterId, limit: size + 1 });
    }
    const page = fitBytes(rows.slice(0, size));
    const live = new Map<string, SessionRow[]>();
    for (const s of await this.sessions.liveForAgents(page.map((r) => r.id)))
      live.set(s.agent_id, [...(live.get(s.agent_id) ?? []), s]);
    const { viewer } = opts;
    const visible = (s: SessionRow) => s.technician === viewer.subject || viewer.role === "admin";
    const last = page.at(-1);
    return {
      agents: page.map((row) => {
        const sessions = live.get(row.id) ?? [];
        const mine = sessions.find((s) => s.technician === viewer.subject) ?? sessions.find(visible);
        return {
          row,
          connection: this.registry.get(row.id),
          liveSessionId: mine?.id,
          holders: sessions.map((s) => ({
            technician: s.technician,
            sessionId: visible(s) ? s.id : "",
            exclusive: s.exclusive === 1,
            state: s.state,
          })),
        };
      }),
      nextPageToken: rows.length > page.length && last ? encodePageToken(last.id) : "",
    };
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
