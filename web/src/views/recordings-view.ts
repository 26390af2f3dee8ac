import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { Recording } from "../../../gen/rmm/v1/tunnel_service_pb.js";
import { agentNames } from "../ui/agent-names.js";
import { filterForm, sinceFilter, textFilter, timestampOf } from "../ui/filter-form.js";
import { duration, localTime } from "../ui/format.js";
import { bytes, h } from "../ui/h.js";
import { pagedTable } from "../ui/paged-table.js";
import type { View, ViewContext } from "./view.js";

const PAGE_SIZE = 25;
/** How often the page shown is listed again. Defaults to 3 s: a running terminal's recording grows and then completes. */
export const RECORDINGS_REFRESH_MS = 3_000;
const OUTCOME_TONE: Record<string, string> = { running: "run", completed: "ok", cancelled: "off" };

/** Terminal recordings, newest first, filtered and paged on the server (technicians see their own); each plays in the page. */
export function recordingsView(root: HTMLElement, ctx: ViewContext): View {
  const agent = textFilter("agent id");
  const technician = textFilter("alice");
  const session = textFilter("session id");
  const since = sinceFilter();
  let names = new Map<string, string>();

  const table = pagedTable<Recording>({
    id: "recordings",
    refreshMs: RECORDINGS_REFRESH_MS,
    columns: ["Started", "Agent", "Technician", "Shell", "Outcome", "Length", "Size", ""],
    empty: "No recording matches the filters.",
    fetch: async (pageToken) => {
      const sinceTime = timestampOf(since);
      const page = await ctx.client.listRecordings({
        agentId: agent.value.trim(),
        technician: technician.value.trim(),
        sessionId: session.value.trim(),
        ...(sinceTime && { since: sinceTime }),
        pageSize: PAGE_SIZE,
        pageToken,
      });
      return { rows: page.recordings, nextPageToken: page.nextPageToken };
    },
    row: (r) => {
      const href = `#/recordings/${r.id}`;
      const start = r.startTime ? timestampMs(r.startTime) : undefined;
      return h(
        "tr",
        { "data-recording-id": String(r.id), "data-session-id": r.sessionId },
        h("td", { "data-label": "Started" }, localTime(r.startTime)),
        h(
          "td",
          { "data-label": "Agent" },
          h(
            "a",
            { href: `#/agents/${encodeURIComponent(r.agentId)}`, class: "host" },
            names.get(r.agentId) || r.agentId.slice(0, 8),
          ),
        ),
        h("td", { "data-label": "Technician" }, r.technician),
        h("td", { "data-label": "Shell", class: "mono" }, r.shell),
        h(
          "td",
          { "data-label": "Outcome" },
          h("span", { class: `state-badge ${OUTCOME_TONE[r.outcome] ?? "bad"}` }, r.outcome),
        ),
        h(
          "td",
          { "data-label": "Length", class: "num" },
          start !== undefined && r.endTime ? duration(timestampMs(r.endTime) - start) : "—",
        ),
        h("td", { "data-label": "Size", class: "num" }, bytes(Number(r.sizeBytes))),
        h("td", { class: "actions" }, h("a", { class: "button small", href, "data-play": String(r.id) }, "Play")),
      );
    },
  });
  const form = filterForm(
    "recordings-filters",
    {
      agent: { label: "Agent", input: agent },
      technician: { label: "Technician", input: technician },
      session: { label: "Session", input: session },
      since: { label: "Started since", input: since },
    },
    table.reload,
  );
  root.replaceChildren(
    h("main", { class: "page wide" }, h("div", { class: "toolbar" }, h("h2", {}, "Recordings")), form, table.element),
  );
  void agentNames(ctx.client)
    .then((n) => (names = n))
    .catch(() => undefined)
    .finally(table.reload);
  return { dispose: () => table.dispose() };
}
