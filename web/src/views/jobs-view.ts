import { timestampMs } from "@bufbuild/protobuf/wkt";
import { JobState, type Job } from "../../../gen/rmm/v1/job_service_pb.js";
import { describeError } from "../api/browser-client.js";
import { ago, h } from "../ui/h.js";
import { commandText, doneCount, JOB_STATE, totalsText } from "../ui/job-labels.js";
import { pagedTable } from "../ui/paged-table.js";
import type { View, ViewContext } from "./view.js";

/** How often the list of jobs is read again while it is shown. Defaults to 3 s: totals move as steps end. */
export const JOBS_REFRESH_MS = 3_000;
/** The selector's match count is asked for once typing pauses this long. Defaults to 300 ms. */
const PREVIEW_PAUSE_MS = 300;
const PAGE_SIZE = 25;

/** Create a job over a label selector; the jobs so far, newest first, paged. */
export function jobsView(root: HTMLElement, ctx: ViewContext): View {
  const selector = h("input", {
    type: "text",
    id: "job-selector",
    placeholder: "env=prod,role!=db",
    spellcheck: "false",
    required: true,
    "aria-label": "Label selector",
  });
  const shell = h("input", { type: "text", id: "job-shell", value: "/bin/sh", spellcheck: "false", class: "shell" });
  const command = h("input", {
    type: "text",
    id: "job-command",
    placeholder: "uptime",
    spellcheck: "false",
    required: true,
    "aria-label": "Command",
  });
  const timeout = h("input", { type: "number", id: "job-timeout", min: 1, placeholder: "600", class: "num" });
  const concurrency = h("input", { type: "number", id: "job-concurrency", min: 1, max: 1000, placeholder: "50" });
  const waitOffline = h("input", { type: "checkbox", id: "job-wait-offline", checked: true });
  const matches = h(
    "span",
    { class: "muted small", id: "job-matches" },
    "Type a selector to see which agents it matches.",
  );
  const problem = h("p", { class: "error small", id: "job-error", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "primary", id: "job-create" }, "Run on matching agents");
  let previewTimer: ReturnType<typeof setTimeout> | undefined;
  let previewGeneration = 0;

  const preview = async () => {
    const mine = ++previewGeneration;
    const text = selector.value.trim();
    if (text === "") {
      matches.textContent = "Type a selector to see which agents it matches.";
      return;
    }
    try {
      const { agents, nextPageToken } = await ctx.client.listAgents({ selector: text, pageSize: 1000 });
      if (mine !== previewGeneration) return;
      const online = agents.filter((a) => a.online).length;
      const names = agents.slice(0, 4).map((a) => a.hostname || a.id.slice(0, 8));
      matches.textContent =
        agents.length === 0
          ? "Matches no agent."
          : `Matches ${agents.length}${nextPageToken ? "+" : ""} ${agents.length === 1 ? "agent" : "agents"}, ${online} online: ${names.join(", ")}${agents.length > names.length ? ", …" : ""}`;
      matches.classList.remove("error");
    } catch (err) {
      if (mine !== previewGeneration) return;
      matches.textContent = describeError(err);
      matches.classList.add("error");
    }
  };
  selector.addEventListener("input", () => {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(() => void preview(), PREVIEW_PAUSE_MS);
  });

  const create = async () => {
    problem.hidden = true;
    submit.disabled = true;
    try {
      const seconds = Number(timeout.value);
      const { job } = await ctx.jobs.createJob({
        selector: selector.value.trim(),
        params: { shellCommand: { shell: shell.value.trim(), commandLine: command.value } },
        concurrency: Number(concurrency.value) || 0,
        ...(seconds > 0 && { timeout: { seconds: BigInt(Math.round(seconds)) } }),
        // Zero: only agents online now; unset: the server's default wait (24 h).
        ...(!waitOffline.checked && { expireAfter: { seconds: 0n } }),
      });
      if (job) location.hash = `#/jobs/${encodeURIComponent(job.id)}`;
    } catch (err) {
      problem.textContent = `Could not create the job: ${describeError(err)}`;
      problem.hidden = false;
    } finally {
      submit.disabled = false;
    }
  };

  const table = pagedTable<Job>({
    id: "jobs",
    refreshMs: JOBS_REFRESH_MS,
    columns: ["Job", "Command", "Selector", "Creator", "Created", "State", "Progress"],
    empty: "No jobs yet.",
    fetch: async (pageToken) => {
      const page = await ctx.jobs.listJobs({ pageSize: PAGE_SIZE, pageToken });
      return { rows: page.jobs, nextPageToken: page.nextPageToken };
    },
    row: (j) => {
      const done = doneCount(j.totals);
      const total = j.totals?.total ?? 0;
      return h(
        "tr",
        { "data-job-id": j.id },
        h(
          "td",
          { "data-label": "Job" },
          h("a", { href: `#/jobs/${encodeURIComponent(j.id)}`, class: "mono host" }, j.id.slice(0, 8)),
        ),
        h("td", { "data-label": "Command", class: "mono wrap" }, commandText(j.params)),
        h("td", { "data-label": "Selector", class: "mono wrap" }, j.selector || "—"),
        h("td", { "data-label": "Creator" }, j.creator),
        h("td", { "data-label": "Created" }, ago(j.createTime ? timestampMs(j.createTime) : undefined)),
        h(
          "td",
          { "data-label": "State" },
          h(
            "span",
            {
              class: `state-badge ${j.state === JobState.RUNNING ? "run" : j.state === JobState.CANCELLED ? "off" : "ok"}`,
            },
            JOB_STATE[j.state],
          ),
        ),
        h(
          "td",
          { "data-label": "Progress", class: "progress-cell" },
          h("progress", { max: Math.max(total, 1), value: done }),
          h("span", { class: "small" }, `${done}/${total} · ${totalsText(j.totals)}`),
        ),
      );
    },
  });

  const form = h(
    "form",
    {
      class: "card job-form",
      id: "job-form",
      onsubmit: (event: Event) => {
        event.preventDefault();
        void create();
      },
    },
    h("h3", {}, "New job"),
    h("label", { class: "field" }, h("span", {}, "Agents (label selector)"), selector),
    matches,
    h(
      "div",
      { class: "field-row" },
      h("label", { class: "field shell" }, h("span", {}, "Shell"), shell),
      h("label", { class: "field grow" }, h("span", {}, "Command"), command),
    ),
    h(
      "div",
      { class: "field-row" },
      h("label", { class: "field small-field" }, h("span", {}, "Timeout (s)"), timeout),
      h("label", { class: "field small-field" }, h("span", {}, "At once"), concurrency),
      h("label", { class: "check" }, waitOffline, "Wait up to 24 h for offline agents"),
      h("span", { class: "spacer" }),
      submit,
    ),
    problem,
  );
  root.replaceChildren(
    h("main", { class: "page" }, h("div", { class: "toolbar" }, h("h2", {}, "Jobs")), form, table.element),
  );
  table.reload();
  return {
    dispose: () => {
      table.dispose();
      clearTimeout(previewTimer);
    },
  };
}
