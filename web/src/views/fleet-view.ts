import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { Agent } from "../../../gen/rmm/v1/tunnel_service_pb.js";
import { describeError } from "../api/browser-client.js";
import { ago, h } from "../ui/h.js";
import type { View, ViewContext } from "./view.js";

/**
 * How often the fleet is listed again. Defaults to 2 s: the API has no watch
 * call yet, and online state changes within the server's heartbeat window anyway.
 */
export const FLEET_REFRESH_MS = 2_000;
const PAGE_SIZE = 1000;

/** Every enrolled agent with its online state, filtered by hostname as you type; refreshed live. */
export function fleetView(root: HTMLElement, ctx: ViewContext): View {
  const filter = h("input", {
    type: "search",
    id: "fleet-filter",
    placeholder: "Filter by hostname or id",
    "aria-label": "Filter",
  });
  const onlineOnly = h("input", { type: "checkbox", id: "fleet-online-only" });
  const body = h("tbody");
  const status = h("p", { class: "muted small", id: "fleet-status" }, "Loading…");
  let agents: Agent[] = [];
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const render = () => {
    const text = filter.value.trim().toLowerCase();
    const shown = agents.filter(
      (a) =>
        (!onlineOnly.checked || a.online) &&
        (text === "" || a.hostname.toLowerCase().includes(text) || a.id.toLowerCase().startsWith(text)),
    );
    const online = agents.filter((a) => a.online).length;
    status.textContent = `${agents.length} agents, ${online} online${shown.length !== agents.length ? `, ${shown.length} shown` : ""} · updated ${new Date().toLocaleTimeString()}`;
    body.replaceChildren(
      ...shown.map((a) =>
        h(
          "tr",
          { "data-agent-id": a.id, "data-online": a.online ? "true" : "false", class: a.revoked ? "revoked" : "" },
          h(
            "td",
            { "data-label": "State" },
            h("span", { class: `dot ${a.online ? "on" : "off"}` }),
            a.revoked ? "revoked" : a.online ? "online" : "offline",
          ),
          h(
            "td",
            { "data-label": "Host" },
            h("a", { href: `#/agents/${encodeURIComponent(a.id)}`, class: "host" }, a.hostname || "(no hostname)"),
          ),
          h("td", { "data-label": "Agent", class: "mono muted" }, a.id.slice(0, 8)),
          h("td", { "data-label": "OS" }, a.os || "—"),
          h("td", { "data-label": "Version", class: "mono" }, a.agentVersion || "—"),
          h(
            "td",
            { "data-label": "Last seen" },
            a.online ? "now" : ago(a.lastSeenTime ? timestampMs(a.lastSeenTime) : undefined),
          ),
          h(
            "td",
            { "data-label": "Session" },
            a.activeSessionId ? h("span", { class: "badge" }, "in session") : h("span", { class: "muted" }, "—"),
          ),
        ),
      ),
    );
    if (shown.length === 0)
      body.append(
        h(
          "tr",
          {},
          h(
            "td",
            { colspan: 7, class: "empty" },
            agents.length === 0 ? "No agents enrolled yet." : "No agent matches the filter.",
          ),
        ),
      );
  };

  const refresh = async () => {
    try {
      const all: Agent[] = [];
      let pageToken = "";
      do {
        const page = await ctx.client.listAgents({ pageSize: PAGE_SIZE, pageToken });
        all.push(...page.agents);
        pageToken = page.nextPageToken;
      } while (pageToken !== "" && !stopped);
      agents = all;
      render();
    } catch (err) {
      status.textContent = `Could not list agents: ${describeError(err)}`;
    }
    if (!stopped) timer = setTimeout(() => void refresh(), FLEET_REFRESH_MS);
  };

  filter.addEventListener("input", render);
  onlineOnly.addEventListener("change", render);
  root.replaceChildren(
    h(
      "main",
      { class: "page" },
      h(
        "div",
        { class: "toolbar" },
        h("h2", {}, "Fleet"),
        filter,
        h("label", { class: "check" }, onlineOnly, "Online only"),
      ),
      h(
        "div",
        { class: "card flush" },
        h(
          "table",
          { class: "fleet" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ...["State", "Host", "Agent", "OS", "Version", "Last seen", "Session"].map((c) => h("th", {}, c)),
            ),
          ),
          body,
        ),
      ),
      status,
    ),
  );
  void refresh();
  return {
    dispose: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
