import { timestampMs } from "@bufbuild/protobuf/wkt";
import { JobState, StepState, type Job, type JobStep } from "../../../gen/rmm/v1/job_service_pb.js";
import type { StepOutput } from "../../../gen/rmm/v1/job_step_pb.js";
import { describeError } from "../api/browser-client.js";
import { duration, localTime } from "../ui/format.js";
import { bytes, h } from "../ui/h.js";
import { commandText, doneCount, JOB_STATE, STEP_STATE, stepIsFinal } from "../ui/job-labels.js";
import type { View, ViewContext } from "./view.js";

/**
 * One job, followed live with WatchJob (the call `rmm job watch` uses): a
 * snapshot of every step, then each change as it happens, until no step is
 * pending or running. `agentId` opens that agent's kept output below.
 */
export function jobView(root: HTMLElement, ctx: ViewContext, jobId: string, agentId: string | undefined): View {
  const abort = new AbortController();
  const steps = new Map<string, JobStep>();
  let job: Job | undefined;
  const title = h("h2", { class: "mono job-title", id: "job-title" }, jobId.slice(0, 8));
  const meta = h("p", { class: "muted small", id: "job-meta" }, "Loading…");
  const progress = h("progress", { id: "job-progress", max: 1, value: 0 });
  const totals = h("span", { id: "job-totals" });
  const live = h("span", { class: "muted small", id: "job-live" }, "connecting…");
  const cancel = h("button", { type: "button", id: "job-cancel", hidden: true }, "Cancel job");
  const body = h("tbody");
  const output = h("section", { class: "card output-card", id: "job-output", hidden: agentId === undefined });
  let outputShownFor: string | undefined;

  const renderJob = () => {
    if (!job) return;
    title.textContent = commandText(job.params) || job.id.slice(0, 8);
    meta.textContent = [
      `${JOB_STATE[job.state]} job ${job.id}`,
      `by ${job.creator} (${job.role})`,
      job.selector ? `selector ${job.selector}` : `${job.agentIds.length} agents by id`,
      `created ${localTime(job.createTime)}`,
    ].join(" · ");
    cancel.hidden = job.state !== JobState.RUNNING;
  };
  const renderSteps = () => {
    const all = [...steps.values()].sort(
      (a, b) => a.hostname.localeCompare(b.hostname) || a.agentId.localeCompare(b.agentId),
    );
    const done = all.filter((s) => stepIsFinal(s.state)).length;
    progress.max = Math.max(all.length, 1);
    progress.value = done;
    const counts = new Map<string, number>();
    for (const s of all) counts.set(STEP_STATE[s.state].label, (counts.get(STEP_STATE[s.state].label) ?? 0) + 1);
    totals.textContent = `${done}/${all.length} done · ${[...counts].map(([k, n]) => `${n} ${k}`).join(", ") || "no steps"}`;
    body.replaceChildren(...all.map(row));
    if (all.length === 0) body.append(h("tr", {}, h("td", { colspan: 6, class: "empty" }, "No steps yet.")));
  };
  const row = (s: JobStep) => {
    const state = STEP_STATE[s.state];
    const end = s.endTime ? timestampMs(s.endTime) : Date.now();
    const selected = s.agentId === agentId;
    return h(
      "tr",
      { "data-agent-id": s.agentId, "data-state": state.label, class: selected ? "selected" : "" },
      h(
        "td",
        { "data-label": "Agent" },
        h(
          "a",
          { class: "host", href: `#/jobs/${encodeURIComponent(jobId)}/${encodeURIComponent(s.agentId)}` },
          s.hostname || s.agentId.slice(0, 8),
        ),
        h("div", { class: "muted small mono" }, s.agentId.slice(0, 8)),
      ),
      h("td", { "data-label": "State" }, h("span", { class: `state-badge ${state.tone}` }, state.label)),
      h(
        "td",
        { "data-label": "Exit", class: "num mono" },
        s.exitCode !== undefined ? String(s.exitCode) : s.signal || "—",
      ),
      h("td", { "data-label": "Took", class: "num" }, s.startTime ? duration(end - timestampMs(s.startTime)) : "—"),
      h("td", { "data-label": "Output", class: "mono wrap first-line" }, stepSummary(s)),
      h(
        "td",
        { class: "actions" },
        h(
          "a",
          {
            class: "button small",
            href: `#/jobs/${encodeURIComponent(jobId)}/${encodeURIComponent(s.agentId)}`,
            "data-output": s.agentId,
          },
          "Output",
        ),
      ),
    );
  };

  const showOutput = async (step: JobStep) => {
    outputShownFor = `${step.agentId}:${step.state}`;
    try {
      const res = await ctx.jobs.getJobStepOutput({ jobId, agentId: step.agentId }, { signal: abort.signal });
      const s = res.step ?? step;
      output.replaceChildren(
        h(
          "div",
          { class: "panel-bar" },
          h("h3", {}, `Output on ${s.hostname || "agent"} `, h("span", { class: "mono muted" }, s.agentId.slice(0, 8))),
          h("span", { class: "muted small", id: "job-output-status" }, outputStatus(s)),
        ),
        stream("stdout", res.stdout),
        stream("stderr", res.stderr),
      );
    } catch (err) {
      if (!abort.signal.aborted) output.replaceChildren(h("p", { class: "error" }, describeError(err)));
    }
  };
  const maybeShowOutput = () => {
    const step = agentId ? steps.get(agentId) : undefined;
    if (!step) return;
    // Kept output is read once the step ended (and once now, to show what it is waiting for).
    if (outputShownFor === undefined || (stepIsFinal(step.state) && outputShownFor !== `${step.agentId}:${step.state}`))
      void showOutput(step);
  };

  const watch = async () => {
    try {
      for await (const m of ctx.jobs.watchJob({ jobId }, { signal: abort.signal })) {
        switch (m.kind.case) {
          case "job":
            job = m.kind.value;
            renderJob();
            break;
          case "snapshot":
            for (const s of m.kind.value.steps) steps.set(s.agentId, s);
            break;
          case "snapshotDone":
            live.textContent = "live";
            renderSteps();
            maybeShowOutput();
            break;
          case "step":
            steps.set(m.kind.value.agentId, m.kind.value);
            renderSteps();
            maybeShowOutput();
            break;
          case "finished":
            job = m.kind.value;
            renderJob();
            break;
        }
      }
      renderSteps();
      maybeShowOutput();
      live.textContent = `Finished ${localTime(job?.finishTime)}`;
      live.dataset["finished"] = "true";
      if (job) progress.value = doneCount(job.totals);
    } catch (err) {
      if (abort.signal.aborted) return;
      live.textContent = `Not following: ${describeError(err)}`;
      live.classList.add("error");
    }
  };

  cancel.addEventListener("click", () => {
    cancel.disabled = true;
    ctx.jobs
      .cancelJob({ jobId })
      .catch((err: unknown) => (live.textContent = `Could not cancel: ${describeError(err)}`))
      .finally(() => (cancel.disabled = false));
  });

  root.replaceChildren(
    h(
      "main",
      { class: "page" },
      h("div", { class: "toolbar" }, h("a", { href: "#/jobs", class: "back" }, "← Jobs"), title),
      meta,
      h("div", { class: "row job-progress" }, progress, totals, h("span", { class: "spacer" }), live, cancel),
      h(
        "div",
        { class: "card flush" },
        h(
          "table",
          { class: "cards", id: "job-steps" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", {}, "Agent"),
              h("th", {}, "State"),
              h("th", { class: "num" }, "Exit"),
              h("th", { class: "num" }, "Took"),
              h("th", {}, "Output"),
              h("th", {}),
            ),
          ),
          body,
        ),
      ),
      output,
    ),
  );
  void watch();
  return { dispose: () => abort.abort() };
}

/** A step that ran to an exit shows its first line of output; the rest say why they are where they are. */
function stepSummary(s: JobStep): string {
  const ran = s.state === StepState.SUCCEEDED || s.state === StepState.FAILED;
  return (ran ? s.firstLine || s.reason : s.reason || s.firstLine) || "—";
}

function outputStatus(s: JobStep): string {
  const state = STEP_STATE[s.state].label;
  const exit = s.exitCode !== undefined ? `, exit status ${s.exitCode}` : s.signal ? `, ${s.signal}` : "";
  const why = s.reason ? ` · ${s.reason}` : "";
  return `${state}${exit} · ${bytes(Number(s.stdoutBytes))} stdout, ${bytes(Number(s.stderrBytes))} stderr${why}`;
}

/** One kept stream: its head, a marker where bytes were dropped, its tail. */
function stream(name: "stdout" | "stderr", out: StepOutput | undefined): HTMLElement {
  const decoder = new TextDecoder();
  const pre = h("pre", { class: `output ${name}`, id: `job-output-${name}` });
  if (!out || out.totalBytes === 0n) pre.append(h("span", { class: "muted" }, `(no ${name})`));
  else {
    pre.append(decoder.decode(out.head));
    if (out.truncated)
      pre.append(
        h(
          "span",
          { class: "cut" },
          `\n… ${bytes(Number(out.totalBytes) - out.head.length - out.tail.length)} not kept …\n`,
        ),
      );
    if (out.tail.length > 0) pre.append(decoder.decode(out.tail));
  }
  return h("div", { class: "stream" }, h("h4", {}, name), pre);
}
