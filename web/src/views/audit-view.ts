import { agentNames } from "../ui/agent-names.js";
import { choiceFilter, filterForm, sinceFilter, textFilter, timestampOf } from "../ui/filter-form.js";
import { localTime } from "../ui/format.js";
import { h } from "../ui/h.js";
import { pagedTable } from "../ui/paged-table.js";
import type { AuditEvent } from "../../../gen/rmm/v1/tunnel_service_pb.js";
import type { View, ViewContext } from "./view.js";

const PAGE_SIZE = 25;
/** How often the page shown is listed again. Defaults to 3 s: new events arrive at the top. */
export const AUDIT_REFRESH_MS = 3_000;
const OUTCOME_TONE: Record<string, string> = { ok: "ok", refused: "wait", error: "bad" };

/** The audit trail, newest first, filtered and paged on the server (technicians see the events they caused). */
export function auditView(root: HTMLElement, ctx: ViewContext): View {
  const actor = textFilter("tech:alice");
  const agent = textFilter("agent id");
  const action = textFilter("tunnel.open");
  const outcome = choiceFilter([
    ["", "any"],
    ["ok", "ok"],
    ["refused", "refused"],
    ["error", "error"],
  ]);
  const since = sinceFilter();
  let names = new Map<string, string>();

  const table = pagedTable<AuditEvent>({
    id: "audit",
    refreshMs: AUDIT_REFRESH_MS,
    columns: ["Time", "Actor", "Action", "Outcome", "Agent", "Session", "Reason"],
    empty: "No event matches the filters.",
    fetch: async (pageToken) => {
      const sinceTime = timestampOf(since);
      const page = await ctx.client.listAuditEvents({
        actor: actor.value.trim(),
        agentId: agent.value.trim(),
        action: action.value.trim(),
        outcome: outcome.value,
        ...(sinceTime && { since: sinceTime }),
        pageSize: PAGE_SIZE,
        pageToken,
      });
      return { rows: page.events, nextPageToken: page.nextPageToken };
    },
    row: (e) =>
      h(
        "tr",
        { "data-event-id": String(e.id), "data-action": e.action },
        h("td", { "data-label": "Time" }, localTime(e.time)),
        h("td", { "data-label": "Actor", class: "mono" }, e.actor),
        h("td", { "data-label": "Action", class: "mono" }, e.action),
        h(
          "td",
          { "data-label": "Outcome" },
          h("span", { class: `state-badge ${OUTCOME_TONE[e.outcome] ?? "off"}` }, e.outcome),
        ),
        h(
          "td",
          { "data-label": "Agent" },
          e.agentId
            ? h(
                "a",
                { href: `#/agents/${encodeURIComponent(e.agentId)}`, class: "host" },
                names.get(e.agentId) || e.agentId.slice(0, 8),
              )
            : h("span", { class: "muted" }, "—"),
        ),
        h("td", { "data-label": "Session", class: "mono" }, e.sessionId ? e.sessionId.slice(0, 8) : "—"),
        h("td", { "data-label": "Reason", class: "wrap mono reason" }, e.reason || "—"),
      ),
  });
  const form = filterForm(
    "audit-filters",
    {
      actor: { label: "Actor", input: actor },
      agent: { label: "Agent", input: agent },
      action: { label: "Action", input: action },
      outcome: { label: "Outcome", input: outcome },
      since: { label: "Since", input: since },
    },
    table.reload,
  );

  root.replaceChildren(
    h("main", { class: "page wide" }, h("div", { class: "toolbar" }, h("h2", {}, "Audit")), form, table.element),
  );
  void agentNames(ctx.client)
    .then((n) => (names = n))
    .catch(() => undefined)
    .finally(table.reload);
  return { dispose: () => table.dispose() };
}
