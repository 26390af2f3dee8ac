import { timestampMs } from "@bufbuild/protobuf/wkt";
import { CloseReason, SessionState, type TunnelSession } from "../../../gen/rmm/v1/tunnel_service_pb.js";
import { agentNames } from "../ui/agent-names.js";
import { choiceFilter, filterForm, sinceFilter, textFilter, timestampOf } from "../ui/filter-form.js";
import { duration, localTime } from "../ui/format.js";
import { h } from "../ui/h.js";
import { pagedTable } from "../ui/paged-table.js";
import type { View, ViewContext } from "./view.js";

const PAGE_SIZE = 25;
/** How often the page shown is listed again. Defaults to 3 s: sessions open and close. */
export const SESSIONS_REFRESH_MS = 3_000;

const STATE: Record<SessionState, string> = {
  [SessionState.UNSPECIFIED]: "unknown",
  [SessionState.OPENING]: "opening",
  [SessionState.ACTIVE]: "active",
  [SessionState.CLOSED]: "closed",
};

/** Why a session closed, as the console says it. */
const CLOSE_REASON: Record<CloseReason, string> = {
  [CloseReason.UNSPECIFIED]: "",
  [CloseReason.CLOSED_BY_TECHNICIAN]: "closed by the technician",
  [CloseReason.AGENT_DISCONNECTED]: "agent disconnected",
  [CloseReason.AGENT_ERROR]: "agent error",
  [CloseReason.TIMEOUT]: "agent did not answer the open",
  [CloseReason.IDLE_TIMEOUT]: "idle timeout",
  [CloseReason.SERVER_RESTART]: "server restarted",
  [CloseReason.OPEN_FAILED]: "open could not be recorded",
  [CloseReason.RELEASED]: "released after its last command",
  [CloseReason.NODE_LOST]: "its server node was lost",
};

/** Tunnel sessions, live and closed, newest first, filtered and paged on the server (technicians see their own). */
export function sessionsView(root: HTMLElement, ctx: ViewContext): View {
  const agent = textFilter("agent id");
  const technician = textFilter("alice");
  const state = choiceFilter([
    ["", "any"],
    [String(SessionState.ACTIVE), "active"],
    [String(SessionState.OPENING), "opening"],
    [String(SessionState.CLOSED), "closed"],
  ]);
  const since = sinceFilter();
  let names = new Map<string, string>();

  const table = pagedTable<TunnelSession>({
    id: "sessions",
    refreshMs: SESSIONS_REFRESH_MS,
    columns: ["Session", "Agent", "Technician", "State", "Opened", "Lasted", "Closed because"],
    empty: "No session matches the filters.",
    fetch: async (pageToken) => {
      const sinceTime = timestampOf(since);
      const page = await ctx.client.listSessions({
        agentId: agent.value.trim(),
        technician: technician.value.trim(),
        state: Number(state.value) as SessionState,
        ...(sinceTime && { since: sinceTime }),
        pageSize: PAGE_SIZE,
        pageToken,
      });
      return { rows: page.sessions, nextPageToken: page.nextPageToken };
    },
    row: (s) => {
      const opened = s.openTime ? timestampMs(s.openTime) : undefined;
      const closed = s.closeTime ? timestampMs(s.closeTime) : Date.now();
      return h(
        "tr",
        { "data-session-id": s.id, "data-state": STATE[s.state] },
        h("td", { "data-label": "Session", class: "mono" }, s.id.slice(0, 8)),
        h(
          "td",
          { "data-label": "Agent" },
          h(
            "a",
            { href: `#/agents/${encodeURIComponent(s.agentId)}`, class: "host" },
            names.get(s.agentId) || s.agentId.slice(0, 8),
          ),
        ),
        h("td", { "data-label": "Technician" }, s.technician),
        h(
          "td",
          { "data-label": "State" },
          h("span", { class: `state-badge ${s.state === SessionState.CLOSED ? "off" : "run"}` }, STATE[s.state]),
          s.exclusive ? h("span", { class: "tag" }, "exclusive") : null,
          s.ephemeral ? h("span", { class: "tag" }, "one command") : null,
        ),
        h("td", { "data-label": "Opened" }, localTime(s.openTime)),
        h("td", { "data-label": "Lasted", class: "num" }, opened !== undefined ? duration(closed - opened) : "—"),
        h(
          "td",
          { "data-label": "Closed because", class: "wrap" },
          [CLOSE_REASON[s.closeReason], s.closeMessage].filter(Boolean).join(": ") || "—",
        ),
      );
    },
  });
  const form = filterForm(
    "sessions-filters",
    {
      agent: { label: "Agent", input: agent },
      technician: { label: "Technician", input: technician },
      state: { label: "State", input: state },
      since: { label: "Opened since", input: since },
    },
    table.reload,
  );

  root.replaceChildren(
    h("main", { class: "page wide" }, h("div", { class: "toolbar" }, h("h2", {}, "Sessions")), form, table.element),
  );
  void agentNames(ctx.client)
    .then((n) => (names = n))
    .catch(() => undefined)
    .finally(table.reload);
  return { dispose: () => table.dispose() };
}
