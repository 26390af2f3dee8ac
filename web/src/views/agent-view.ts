import { describeError, type TunnelClient } from "../api/browser-client.js";
import { agentPaths, type AgentPaths } from "../ui/agent-paths.js";
import { h } from "../ui/h.js";
import { agentHeader } from "./agent-header.js";
import { filesPanel } from "./files-panel.js";
import { lazyView } from "./lazy-view.js";
import { runPanel } from "./run-panel.js";
import type { View, ViewContext } from "./view.js";

type Panel = (root: HTMLElement, client: TunnelClient, sessionId: string, paths: AgentPaths) => View;

const TABS: ReadonlyArray<{ id: string; label: string; panel: Panel }> = [
  // The terminal brings xterm.js, most of the bundle: it loads when the tab opens.
  {
    id: "terminal",
    label: "Terminal",
    panel: (root, client, sessionId) =>
      lazyView(root, () => import("./terminal-panel.js").then((m) => (r) => m.terminalPanel(r, client, sessionId))),
  },
  { id: "files", label: "Files", panel: filesPanel },
  { id: "run", label: "Run", panel: runPanel },
];

/** Sessions this tab is closing, by agent: the next page for that agent waits, as a technician holds one session per agent. */
const closing = new Map<string, Promise<unknown>>();

/**
 * One agent: its header (agent-header.ts), and a tunnel session opened on
 * entry (the server allows a technician one per agent) and closed on leaving;
 * the terminal, files and run tabs share it.
 */
export function agentView(root: HTMLElement, ctx: ViewContext, agentId: string, tab: string | undefined): View {
  const title = h("h2", {}, agentId.slice(0, 8));
  const meta = h("p", { class: "muted small flat", id: "agent-meta" }, "Opening a session…");
  const header = agentHeader(ctx.client, agentId, (agent) => {
    title.textContent = agent.hostname || agentId.slice(0, 8);
  });
  const panelRoot = h("section", { class: "panel card" });
  const tabs = h("nav", { class: "tabs", role: "tablist" });
  const current = (TABS.find((t) => t.id === tab) ?? TABS[0])!.id;
  let panel: View | undefined;
  let sessionId: string | undefined;
  let disposed = false;

  root.replaceChildren(
    h(
      "main",
      { class: "page" },
      h("div", { class: "toolbar" }, h("a", { href: "#/", class: "back" }, "← Fleet"), title),
      header.element,
      meta,
      tabs,
      panelRoot,
    ),
  );
  tabs.replaceChildren(
    ...TABS.map((t) =>
      h(
        "a",
        {
          href: `#/agents/${encodeURIComponent(agentId)}/${t.id}`,
          role: "tab",
          class: t.id === current ? "active" : "",
          id: `tab-${t.id}`,
        },
        t.label,
      ),
    ),
  );

  const start = async () => {
    // The agent's OS and home, so the files tab builds paths with its rules and starts in its home.
    const { agent } = await ctx.client.getAgent({ agentId });
    if (!agent) throw new Error("the server answered without the agent");
    await closing.get(agentId);
    const { session } = await ctx.client.openTunnel({ agentId });
    if (!session) throw new Error("the server answered without a session");
    sessionId = session.id;
    if (disposed) return close();
    meta.textContent = `Session ${session.id.slice(0, 8)} open`;
    header.refresh();
    const make = (TABS.find((t) => t.id === current) ?? TABS[0])!.panel;
    panel = make(panelRoot, ctx.client, session.id, agentPaths(agent));
  };
  const close = () => {
    if (sessionId) {
      const done = ctx.keepaliveClient.closeTunnel({ sessionId }).catch(() => undefined);
      closing.set(agentId, done);
      void done.then(() => closing.get(agentId) === done && closing.delete(agentId));
    }
    sessionId = undefined;
  };
  // A closed tab closes its session too, rather than holding the agent until the idle timeout.
  const onPageHide = () => close();
  window.addEventListener("pagehide", onPageHide);
  void start().catch((err: unknown) => {
    meta.textContent = `Could not open a session: ${describeError(err)}`;
    meta.classList.add("error");
  });
  return {
    dispose: () => {
      disposed = true;
      header.dispose();
      window.removeEventListener("pagehide", onPageHide);
      panel?.dispose();
      close();
    },
  };
}
