import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Agent, AgentHealth, ListAgentsRequestSchema } from "../../../gen/rmm/v1/tunnel_service_pb.js";
import { describeError } from "../api/browser-client.js";
import { uptime, usedShare } from "../ui/format.js";
import { ago, bytes, h } from "../ui/h.js";
import { readHashQuery, writeHashQuery } from "../ui/hash-query.js";
import type { View, ViewContext } from "./view.js";

/**
 * How often the fleet is listed again. Defaults to 2 s: the API has no watch
 * call, and online state changes within the server's heartbeat window anyway.
 */
export const FLEET_REFRESH_MS = 2_000;
/** Typing in a filter lists again once the keys pause this long. Defaults to 250 ms. */
const FILTER_PAUSE_MS = 250;
const PAGE_SIZE = 1000;
const COLUMNS = ["State", "Host", "Labels", "Uptime", "Load", "Memory", "Disk", "Last seen", "Sessions"];

/**
 * Every enrolled agent with online state, labels, inventory (from its last
 * heartbeat) and who holds a session on it; filtered on the server by label
 * selector and hostname, and listed again every FLEET_REFRESH_MS.
 */
export function fleetView(root: HTMLElement, ctx: ViewContext): View {
  const query = readHashQuery();
  const selector = h("input", {
    type: "search",
    id: "fleet-selector",
    placeholder: "Selector: env=prod,role!=db",
    value: query.get("selector") ?? "",
    spellcheck: "false",
    "aria-label": "Label selector",
    title: "Kubernetes label selector: =, !=, in (a,b), notin (a,b), key, !key",
  });
  const hostname = h("input", {
    type: "search",
    id: "fleet-hostname",
    placeholder: "Hostname: web-*",
    value: query.get("hostname") ?? "",
    spellcheck: "false",
    "aria-label": "Hostname",
    title: "Plain text matches anywhere in the hostname; * and ? are wildcards",
  });
  const onlineOnly = h("input", { type: "checkbox", id: "fleet-online-only", checked: query.has("online") });
  const body = h("tbody");
  const status = h("p", { class: "muted small", id: "fleet-status" }, "Loading…");
  const problem = h("p", { class: "error small", id: "fleet-error", role: "alert", hidden: true });
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let generation = 0;

  const request = (): MessageInitShape<typeof ListAgentsRequestSchema> => {
    const host = hostname.value.trim();
    return {
      selector: selector.value.trim(),
      // The API matches a hostname exactly or as a glob; plain text is taken as "contains".
      hostname: host === "" || /[*?]/.test(host) ? host : `*${host}*`,
      onlineOnly: onlineOnly.checked,
    };
  };

  const refresh = async () => {
    clearTimeout(timer);
    const mine = ++generation;
    try {
      const all: Agent[] = [];
      let pageToken = "";
      do {
        const page = await ctx.client.listAgents({ ...request(), pageSize: PAGE_SIZE, pageToken });
        all.push(...page.agents);
        pageToken = page.nextPageToken;
      } while (pageToken !== "" && !stopped);
      if (mine !== generation) return;
      problem.hidden = true;
      render(all);
    } catch (err) {
      if (mine !== generation) return;
      const invalid = ConnectError.from(err).code === Code.InvalidArgument;
      problem.textContent = invalid
        ? ConnectError.from(err).rawMessage
        : `Could not list agents: ${describeError(err)}`;
      problem.hidden = false;
      if (invalid) render([]);
    }
    if (!stopped && mine === generation) timer = setTimeout(() => void refresh(), FLEET_REFRESH_MS);
  };

  const render = (agents: Agent[]) => {
    const online = agents.filter((a) => a.online).length;
    const filtered = selector.value.trim() !== "" || hostname.value.trim() !== "" || onlineOnly.checked;
    status.textContent = `${agents.length} ${filtered ? "matching " : ""}agents, ${online} online · updated ${new Date().toLocaleTimeString()}`;
    body.replaceChildren(...agents.map(row));
    if (agents.length === 0)
      body.append(
        h(
          "tr",
          {},
          h(
            "td",
            { colspan: COLUMNS.length, class: "empty" },
            filtered ? "No agent matches the filters." : "No agents enrolled yet.",
          ),
        ),
      );
  };

  const addToSelector = (requirement: string) => (event: Event) => {
    event.preventDefault();
    const parts = selector.value.trim() === "" ? [] : [selector.value.trim()];
    if (!parts.join(",").split(",").includes(requirement)) parts.push(requirement);
    selector.value = parts.join(",");
    changed();
  };

  const row = (a: Agent) =>
    h(
      "tr",
      {
        "data-agent-id": a.id,
        "data-online": a.online ? "true" : "false",
        class: a.revoked ? "revoked" : "",
      },
      h(
        "td",
        { "data-label": "State", class: "state" },
        h("span", { class: `dot ${a.online ? "on" : "off"}` }),
        a.revoked ? "revoked" : a.online ? "online" : "offline",
      ),
      h(
        "td",
        { "data-label": "Host", class: "host-cell" },
        h("a", { href: `#/agents/${encodeURIComponent(a.id)}`, class: "host" }, a.hostname || "(no hostname)"),
        h(
          "div",
          { class: "muted small" },
          h("span", { class: "mono" }, a.id.slice(0, 8)),
          ` · ${a.os || "?"} · ${a.agentVersion || "?"}`,
        ),
      ),
      h(
        "td",
        { "data-label": "Labels", class: "labels" },
        ...Object.entries(a.labels)
          .sort(([x], [y]) => x.localeCompare(y))
          .map(([key, value]) =>
            h(
              "a",
              {
                href: "#",
                class: `chip${key in a.serverLabels ? " server" : ""}`,
                "data-label-key": key,
                title: `${key in a.serverLabels ? "Set on the server" : "Reported by the agent"}; click to filter`,
                onclick: addToSelector(`${key}=${value}`),
              },
              `${key}=${value}`,
            ),
          ),
        Object.keys(a.labels).length === 0 ? h("span", { class: "muted" }, "—") : null,
      ),
      ...inventory(a.health),
      h(
        "td",
        { "data-label": "Last seen", class: "last-seen" },
        a.online ? "now" : ago(a.lastSeenTime ? timestampMs(a.lastSeenTime) : undefined),
      ),
      h(
        "td",
        { "data-label": "Sessions", class: "holders" },
        ...a.sessionHolders.map((s) =>
          h(
            "span",
            {
              class: `badge${s.exclusive ? " exclusive" : ""}`,
              "data-holder": s.technician,
              title: s.exclusive ? "Exclusive session: nobody else may open one" : "Holds a session",
            },
            s.exclusive ? `${s.technician} (exclusive)` : s.technician,
          ),
        ),
        a.sessionHolders.length === 0 ? h("span", { class: "muted" }, "—") : null,
      ),
    );

  let pause: ReturnType<typeof setTimeout> | undefined;
  const changed = () => {
    writeHashQuery({ selector: selector.value.trim(), hostname: hostname.value.trim(), online: onlineOnly.checked });
    clearTimeout(pause);
    pause = setTimeout(() => void refresh(), FILTER_PAUSE_MS);
  };
  selector.addEventListener("input", changed);
  hostname.addEventListener("input", changed);
  onlineOnly.addEventListener("change", changed);
  root.replaceChildren(
    h(
      "main",
      { class: "page wide" },
      h(
        "div",
        { class: "toolbar" },
        h("h2", {}, "Fleet"),
        selector,
        hostname,
        h("label", { class: "check" }, onlineOnly, "Online only"),
      ),
      problem,
      h(
        "div",
        { class: "card flush" },
        h("table", { class: "fleet cards" }, h("thead", {}, h("tr", {}, ...COLUMNS.map((c) => h("th", {}, c)))), body),
      ),
      status,
    ),
  );
  void refresh();
  return {
    dispose: () => {
      stopped = true;
      clearTimeout(timer);
      clearTimeout(pause);
    },
  };
}

/** Uptime, load, memory and disk cells from the last heartbeat; dashes while none arrived (offline, or just connected). */
function inventory(health: AgentHealth | undefined): HTMLTableCellElement[] {
  if (!health)
    return ["Uptime", "Load", "Memory", "Disk"].map((label) => h("td", { "data-label": label, class: "muted" }, "—"));
  return [
    h("td", { "data-label": "Uptime", class: "uptime" }, uptime(Number(health.uptimeSeconds))),
    h(
      "td",
      { "data-label": "Load", class: "load mono", title: "1, 5 and 15 minute load averages" },
      health.loadAverage.map((l) => l.toFixed(2)).join(" ") || "—",
    ),
    usage("Memory", "memory", health.memoryTotalBytes, health.memoryFreeBytes),
    usage("Disk", "disk", health.diskTotalBytes, health.diskFreeBytes),
  ];
}

function usage(label: string, cls: string, total: bigint, free: bigint): HTMLTableCellElement {
  const share = usedShare(total, free);
  if (share === undefined) return h("td", { "data-label": label, class: "muted" }, "—");
  return h(
    "td",
    {
      "data-label": label,
      class: `usage ${cls}`,
      title: `${bytes(Number(total - free))} used of ${bytes(Number(total))}`,
    },
    h("meter", { min: 0, max: 1, low: 0.75, high: 0.9, optimum: 0, value: share }),
    h("span", {}, `${Math.round(share * 100)}% of ${bytes(Number(total))}`),
  );
}
