import { timestampDate, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Technician } from "../auth/claims.js";
import type { AuditEvent, ListAuditEventsRequest } from "../../gen/rmm/v1/tunnel_service_pb.js";
import type { AuditFilter, AuditStore } from "../store/index.js";
import type { AuditOutcome } from "../store/index.js";
import { actorOf } from "./audit-log.js";
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from "./agent-directory.js";
import { decodeIdPageToken, encodeIdPageToken } from "./id-page-token.js";

const OUTCOMES: readonly AuditOutcome[] = ["ok", "refused", "error"];
/** Longest string filter: far past any actor, id or action, short enough to bound a query and a message. */
const MAX_FILTER_CHARS = 256;

/** Reading the audit trail: technicians their own events, admins everyone's. */
export class AuditTrail {
  constructor(private readonly store: AuditStore) {}

  async list(
    tech: Technician,
    req: ListAuditEventsRequest,
  ): Promise<{ events: Array<Omit<AuditEvent, "$typeName" | "$unknown">>; nextPageToken: string }> {
    for (const [field, value] of Object.entries({
      actor: req.actor,
      agent_id: req.agentId,
      action: req.action,
      outcome: req.outcome,
    })) {
      if (value.length > MAX_FILTER_CHARS)
        throw new ConnectError(
          `${field} is ${value.length} characters; at most ${MAX_FILTER_CHARS}`,
          Code.InvalidArgument,
        );
    }
    if (req.outcome && !OUTCOMES.includes(req.outcome as AuditOutcome))
      throw new ConnectError(`outcome ${req.outcome} is not one of ${OUTCOMES.join(", ")}`, Code.InvalidArgument);
    if (req.pageSize < 0) throw new ConnectError("page_size is negative", Code.InvalidArgument);
    const own = actorOf.technician(tech.subject);
    if (tech.role !== "admin" && req.actor && req.actor !== own)
      throw new ConnectError(
        `technicians see only their own events (actor ${own}); admins see all`,
        Code.PermissionDenied,
      );
    const filter: AuditFilter = {
      ...((req.actor || tech.role !== "admin") && { actor: req.actor || own }),
      ...(req.agentId && { agentId: req.agentId }),
      ...(req.action && { action: req.action }),
      ...(req.outcome && { outcome: req.outcome as AuditOutcome }),
      ...(req.since && { sinceMs: timestampDate(req.since).getTime() }),
      ...(req.until && { untilMs: timestampDate(req.until).getTime() }),
    };
    const size = req.pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(req.pageSize, MAX_PAGE_SIZE);
    const rows = await this.store.list(filter, decodeIdPageToken(req.pageToken), size + 1);
    const page = rows.slice(0, size);
    return {
      events: page.map((r) => ({
        id: BigInt(r.id),
        time: timestampFromMs(r.at),
        actor: r.actor,
        action: r.action,
        outcome: r.outcome,
        agentId: r.agent_id ?? "",
        sessionId: r.session_id ?? "",
        reason: r.reason ?? "",
      })),
      nextPageToken: rows.length > size ? encodeIdPageToken(page.at(-1)!.id) : "",
    };
  }
}
