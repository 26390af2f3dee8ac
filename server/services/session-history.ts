import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Technician } from "../auth/claims.js";
import { SessionState, type ListSessionsRequest } from "../../gen/rmm/v1/tunnel_service_pb.js";
import type { SessionRow, SessionStateName, SessionStore } from "../store/index.js";
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from "./agent-directory.js";

const STATE_NAME: Partial<Record<SessionState, SessionStateName>> = {
  [SessionState.OPENING]: "opening",
  [SessionState.ACTIVE]: "active",
  [SessionState.CLOSED]: "closed",
};
/** Longest string filter, as for the audit trail. */
const MAX_FILTER_CHARS = 256;

/** Past and live sessions: technicians their own, admins everyone's. */
export class SessionHistory {
  constructor(private readonly store: SessionStore) {}

  async list(tech: Technician, req: ListSessionsRequest): Promise<{ rows: SessionRow[]; nextPageToken: string }> {
    for (const [field, value] of Object.entries({ agent_id: req.agentId, technician: req.technician }))
      if (value.length > MAX_FILTER_CHARS)
        throw new ConnectError(
          `${field} is ${value.length} characters; at most ${MAX_FILTER_CHARS}`,
          Code.InvalidArgument,
        );
    if (req.pageSize < 0) throw new ConnectError("page_size is negative", Code.InvalidArgument);
    if (req.state !== SessionState.UNSPECIFIED && !STATE_NAME[req.state])
      throw new ConnectError(`state ${req.state} is not a SessionState`, Code.InvalidArgument);
    if (tech.role !== "admin" && req.technician && req.technician !== tech.subject)
      throw new ConnectError(
        `technicians see only their own sessions (${tech.subject}); admins see all`,
        Code.PermissionDenied,
      );
    const technician = req.technician || (tech.role === "admin" ? "" : tech.subject);
    const state = STATE_NAME[req.state];
    const size = req.pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(req.pageSize, MAX_PAGE_SIZE);
    const rows = await this.store.history(
      {
        ...(req.agentId && { agentId: req.agentId }),
        ...(technician && { technician }),
        ...(state && { state }),
        ...(req.since && { sinceMs: timestampDate(req.since).getTime() }),
        ...(req.until && { untilMs: timestampDate(req.until).getTime() }),
      },
      decodePageToken(req.pageToken),
      size + 1,
    );
    const page = rows.slice(0, size);
    const last = page.at(-1);
    return {
      rows: page,
      nextPageToken:
        rows.length > size && last
          ? Buffer.from(JSON.stringify({ openedAt: last.opened_at, id: last.id })).toString("base64url")
          : "",
    };
  }
}

function decodePageToken(token: string): { openedAt: number; id: string } | undefined {
  if (!token) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { openedAt?: unknown; id?: unknown };
    if (typeof parsed.openedAt === "number" && typeof parsed.id === "string" && parsed.id.length <= 64)
      return { openedAt: parsed.openedAt, id: parsed.id };
  } catch {
    // Falls through to the same error as a well-formed token of the wrong shape.
  }
  throw new ConnectError(
    "page_token is not one this server issued: pass next_page_token from a previous response",
    Code.InvalidArgument,
  );
}
