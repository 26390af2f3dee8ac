import { decodeJwt } from "./api/jwt-claims.js";
import { createBrowserClient } from "./api/browser-client.js";
import { takeTokenFromAddress, tokenStore } from "./api/token-store.js";
import "./styles.css";
import { h } from "./ui/h.js";
import { hashPath } from "./ui/hash-query.js";
import { agentView } from "./views/agent-view.js";
import { auditView } from "./views/audit-view.js";
import { fleetView } from "./views/fleet-view.js";
import { jobView } from "./views/job-view.js";
import { jobsView } from "./views/jobs-view.js";
import { lazyView } from "./views/lazy-view.js";
import { recordingsView } from "./views/recordings-view.js";
import { sessionsView } from "./views/sessions-view.js";
import { signInView } from "./views/sign-in-view.js";
import type { View, ViewContext } from "./views/view.js";

takeTokenFromAddress();

const app = document.getElementById("app") as HTMLElement;
let view: View | undefined;
let ctx: ViewContext | undefined;

function signOut(reason: string): void {
  tokenStore.clear(reason);
  ctx = undefined;
  route();
}

function context(): ViewContext | undefined {
  const token = tokenStore.get();
  if (!token) return undefined;
  if (!ctx) {
    const claims = decodeJwt(token);
    const technician = claims?.sub ?? "technician";
    const onUnauthenticated = (reason: string) => signOut(`Signed out: ${reason}`);
    const clients = createBrowserClient(token, onUnauthenticated);
    ctx = {
      client: clients.tunnel,
      jobs: clients.jobs,
      keepaliveClient: createBrowserClient(token, onUnauthenticated, { keepalive: true }).tunnel,
      technician,
      signOut,
    };
  }
  return ctx;
}

/** The header's sections: the hash path's first part, and its label. */
const SECTIONS = [
  { page: "", label: "Fleet" },
  { page: "jobs", label: "Jobs" },
  { page: "sessions", label: "Sessions" },
  { page: "audit", label: "Audit" },
  { page: "recordings", label: "Recordings" },
] as const;

/**
 * Hash routes: `#/` the fleet, `#/agents/<id>[/<tab>]` one agent, `#/jobs`,
 * `#/jobs/<id>[/<agent id>]` one job (and one agent's output), `#/sessions`,
 * `#/audit`, `#/recordings[/<id>]` (one plays). Filters follow a `?` (ui/hash-query.ts).
 */
function route(): void {
  view?.dispose();
  view = undefined;
  const c = context();
  if (!c) {
    view = signInView(app, tokenStore.takeReason(), (token) => void signIn(token));
    return;
  }
  const [page = "", id, tab] = hashPath();
  const section = page === "agents" ? "" : page;
  const header = h(
    "header",
    { class: "top" },
    h("a", { href: "#/", class: "brand" }, "rmm"),
    h(
      "nav",
      { class: "sections" },
      ...SECTIONS.map((s) =>
        h(
          "a",
          { href: `#/${s.page}`, id: `nav-${s.label.toLowerCase()}`, class: section === s.page ? "active" : "" },
          s.label,
        ),
      ),
    ),
    h("span", { class: "spacer" }),
    h("span", { class: "muted small", id: "who" }, c.technician),
    h(
      "button",
      { type: "button", class: "small", id: "sign-out", onclick: () => signOut("You signed out.") },
      "Sign out",
    ),
  );
  const body = h("div", { class: "body" });
  app.replaceChildren(header, body);
  if (page === "agents" && id) view = agentView(body, c, id, tab);
  else if (page === "jobs" && id) view = jobView(body, c, id, tab);
  else if (page === "jobs") view = jobsView(body, c);
  else if (page === "sessions") view = sessionsView(body, c);
  else if (page === "audit") view = auditView(body, c);
  else if (page === "recordings" && id)
    view = lazyView(body, () =>
      import("./views/recording-view.js").then((m) => (root) => m.recordingView(root, c, id)),
    );
  else if (page === "recordings") view = recordingsView(body, c);
  else view = fleetView(body, c);
}

/** Keeps the token only once the server accepted it for a call. */
async function signIn(token: string): Promise<void> {
  tokenStore.set(token);
  ctx = undefined;
  const c = context();
  try {
    await c?.client.listAgents({ pageSize: 1 });
    route();
  } catch {
    // An Unauthenticated answer has signed out with its reason already; anything else is shown too.
    if (tokenStore.get()) signOut("The server could not be reached to check the token.");
  }
}

window.addEventListener("hashchange", route);
const expiry = setInterval(() => {
  const token = tokenStore.get();
  const exp = token ? decodeJwt(token)?.exp : undefined;
  if (exp !== undefined && exp * 1000 <= Date.now()) signOut("Signed out: your token expired. Mint a new one.");
}, 5_000);
window.addEventListener("pagehide", () => clearInterval(expiry));
route();
