import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { Agent } from "../../../gen/rmm/v1/tunnel_service_pb.js";
import { describeError, type TunnelClient } from "../api/browser-client.js";
import { uptime, usedShare } from "../ui/format.js";
import { ago, bytes, h } from "../ui/h.js";
import { FLEET_REFRESH_MS } from "./fleet-view.js";

/** The header's element, and a way to stop it asking the server again. */
export interface AgentHeader {
  element: HTMLElement;
  /** Reads the agent now rather than at the next tick (the page just opened a session, so it lists its holder). */
  refresh(): void;
  dispose(): void;
}

/**
 * What the fleet shows about one agent, above its tabs: online state, labels,
 * inventory from its last heartbeat, last seen, who holds a session and (in
 * cluster mode) the node holding its stream. Read with GetAgent again every
 * FLEET_REFRESH_MS, as the fleet is, since the API has no watch call.
 */
export function agentHeader(client: TunnelClient, agentId: string, onAgent: (agent: Agent) => void): AgentHeader {
  const facts = h("dl", { class: "facts", id: "agent-facts" });
  const labels = h("div", { class: "labels", id: "agent-labels" });
  const problem = h("p", { class: "error small", id: "agent-error", role: "alert", hidden: true });
  const element = h("section", { class: "card agent-header" }, facts, labels, problem);
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  // Only the latest read renders and schedules the next, so an early refresh() never doubles the ticks.
  let generation = 0;
  const refresh = async () => {
    clearTimeout(timer);
    const mine = ++generation;
    try {
      const { agent } = await client.getAgent({ agentId });
      if (stopped || mine !== generation) return;
      if (!agent) throw new Error("the server answered without the agent");
      problem.hidden = true;
      render(agent);
      onAgent(agent);
    } catch (err) {
      if (stopped || mine !== generation) return;
      // The last facts stay on screen, marked as stale by the message.
      problem.textContent = `Could not read the agent again: ${describeError(err)}`;
      problem.hidden = false;
    }
    if (!stopped) timer = setTimeout(() => void refresh(), FLEET_REFRESH_MS);
  };

  const render = (a: Agent) => {
    const health = a.health;
    const fact = (name: string, key: string, ...value: Array<Node | string | null>) =>
      h("div", { class: "fact", "data-fact": key }, h("dt", {}, name), h("dd", {}, ...value));
    const shown: Array<HTMLElement | null> = [
      fact(
        "State",
        "state",
        h("span", { class: `dot ${a.online ? "on" : "off"}` }),
        a.revoked ? "revoked" : a.online ? "online" : "offline",
      ),
      fact("OS", "os", a.os || "—"),
      fact("Agent", "version", a.agentVersion || "—"),
      fact("Uptime", "uptime", health ? uptime(Number(health.uptimeSeconds)) : "—"),
      fact("Load", "load", health?.loadAverage.map((l) => l.toFixed(2)).join(" ") || "—"),
      fact("Memory", "memory", usage(health?.memoryTotalBytes, health?.memoryFreeBytes)),
      fact("Disk", "disk", usage(health?.diskTotalBytes, health?.diskFreeBytes)),
      fact("Last seen", "last-seen", a.online ? "now" : ago(a.lastSeenTime ? timestampMs(a.lastSeenTime) : undefined)),
      fact(
        "Sessions",
        "holders",
        ...a.sessionHolders.map((s) =>
          h(
            "span",
            { class: `badge${s.exclusive ? " exclusive" : ""}`, "data-holder": s.technician },
            s.exclusive ? `${s.technician} (exclusive)` : s.technician,
          ),
        ),
        a.sessionHolders.length === 0 ? "—" : null,
      ),
      // Outside cluster mode there is one server and nothing to say.
      a.nodeId
        ? fact("Node", "node", h("span", { class: "mono", title: "The server node holding its stream" }, a.nodeId))
        : null,
      fact("Id", "id", h("span", { class: "mono" }, a.id)),
    ];
    facts.replaceChildren(...shown.filter((el) => el !== null));
    const entries = Object.entries(a.labels).sort(([x], [y]) => x.localeCompare(y));
    const chips = entries.map(([key, value]) =>
      h(
        "span",
        {
          class: `chip${key in a.serverLabels ? " server" : ""}`,
          "data-label-key": key,
          title: key in a.serverLabels ? "Set on the server" : "Reported by the agent",
        },
        `${key}=${value}`,
      ),
    );
    labels.replaceChildren(...(chips.length > 0 ? chips : [h("span", { class: "muted small" }, "No labels")]));
  };

  void refresh();
  return {
    element,
    refresh: () => void refresh(),
    dispose: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** "42% of 7.6 GiB" with a meter, or "—" when the agent reported no total. */
function usage(total: bigint | undefined, free: bigint | undefined): Node | string {
  const share = total === undefined || free === undefined ? undefined : usedShare(total, free);
  if (share === undefined) return "—";
  return h(
    "span",
    { class: "usage", title: `${bytes(Number(total! - free!))} used of ${bytes(Number(total))}` },
    // The figure first, so that it lines up with the other facts' text; the meter below it.
    `${Math.round(share * 100)}% of ${bytes(Number(total))}`,
    h("meter", { min: 0, max: 1, low: 0.75, high: 0.9, optimum: 0, value: share }),
  );
}
