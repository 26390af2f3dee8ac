import { mkdirSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTechnicianClient } from "../../client/technician-client.js";
import { startAgentRig, type AgentRig } from "../../testkit/agent-rig.js";
import { launchTestBrowser, screenshots, WEB_ARTIFACTS, type TestBrowser } from "../../testkit/browser.js";
import { until } from "../support/until.js";

/** Sessions the audit and session lists must page through: more than one page of 25. */
const SESSIONS_TO_PAGE = 26;

describe("web console fleet, jobs, sessions and audit views in a real browser", () => {
  let rig: AgentRig;
  let browser: TestBrowser;
  let page: Page;
  let secondId: string;
  let bob: ReturnType<typeof createTechnicianClient>;
  let carolToken: string;
  const row = (id: string) => `tr[data-agent-id="${id}"]`;
  const shot = (name: string) => screenshots(page, name);

  beforeAll(async () => {
    mkdirSync(WEB_ARTIFACTS, { recursive: true });
    rig = await startAgentRig("sqlite", {
      logLevel: "info",
      // Heartbeats every second bring the inventory in at once; offline detection stays generous for a busy machine.
      serverExtra: ["--heartbeat-interval", "1s", "--offline-after", "60s"],
      agentExtra: ["--label", "env=test", "--label", "role=web"],
    });
    secondId = (await rig.startAgent("second", ["--label", "env=test", "--label", "role=db"])).agentId;
    bob = createTechnicianClient(rig.url, await rig.mintToken("bob", "tech"));
    carolToken = await rig.mintToken("carol", "admin");
    browser = await launchTestBrowser();
    page = await browser.context.newPage();
    // Under the test's own timeout, so that a wait that fails names its selector.
    page.setDefaultTimeout(15_000);
    page.on("pageerror", (e) => console.log("[page error]", e.message));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await rig?.stop();
  });

  it("shows labels, inventory and who holds a session, filters by selector and hostname, and updates live", async () => {
    const admin = createTechnicianClient(rig.url, carolToken);
    await admin.setAgentLabels({ agentId: rig.agentId, set: { site: "lab-1" } });
    const { session } = await bob.openTunnel({ agentId: rig.agentId });
    await page.goto(`${rig.url}/?token=${carolToken}#/`);
    const first = row(rig.agentId);
    await page.waitForSelector(`${first} [data-holder="bob"]`);
    await page.waitForSelector(`${first} .chip.server[data-label-key="site"]:has-text("site=lab-1")`);
    expect(await page.textContent(`${first} .labels`)).toContain("role=web");
    // Inventory arrives with the first heartbeat on each agent.
    for (const id of [rig.agentId, secondId]) {
      await page.waitForSelector(`${row(id)} td.uptime`);
      expect(await page.textContent(`${row(id)} td.memory`)).toMatch(/^\d+% of [\d.]+ [KMGT]iB$/);
      expect(await page.textContent(`${row(id)} td.disk`)).toMatch(/^\d+% of [\d.]+ [KMGT]iB$/);
      expect(await page.textContent(`${row(id)} td.load`)).toMatch(/^\d+\.\d\d \d+\.\d\d \d+\.\d\d$/);
    }
    await shot("fleet-inventory");

    const shownIds = () =>
      page.$$eval("table.fleet tbody tr[data-agent-id]", (rows) =>
        rows.map((r) => r.getAttribute("data-agent-id")).filter((id) => id !== null),
      );
    await page.fill("#fleet-selector", "role=db");
    await until(async () => (await shownIds()).join() === secondId, "the selector to leave the db agent only");
    expect(page.url()).toContain("selector=role%3Ddb");
    await page.fill("#fleet-selector", "");
    await page.fill("#fleet-hostname", "no-such-host-*");
    await page.waitForSelector("td.empty:has-text('No agent matches the filters.')");
    await page.fill("#fleet-hostname", hostname().slice(0, 3));
    await until(async () => (await shownIds()).length === 2, "a part of the hostname to match both agents");
    await page.fill("#fleet-hostname", "");
    await page.fill("#fleet-selector", "env in (");
    await page.waitForSelector("#fleet-error:not([hidden])");
    expect(await page.textContent("#fleet-error")).toMatch(/selector/i);
    await page.fill("#fleet-selector", "");
    await page.waitForSelector("#fleet-error[hidden]", { state: "attached" });

    // Live: the holder goes away without a reload once bob closes his session.
    await bob.closeTunnel({ sessionId: session!.id });
    await page.waitForSelector(`${first} td.holders:not(:has([data-holder]))`);
  });

  it("heads the agent page with its labels, inventory, last seen and who holds a session, updated live", async () => {
    // Signed in as carol (admin) by the test before; the page opens carol's own session on the agent.
    await page.goto(`${rig.url}/#/agents/${rig.agentId}/run`);
    const fact = (key: string) => `#agent-facts [data-fact="${key}"] dd`;
    await page.waitForSelector(`${fact("holders")} [data-holder="carol"]`);
    expect(await page.textContent(fact("state"))).toBe("online");
    expect(await page.textContent(fact("os"))).toBe(`${process.platform} ${process.arch}`);
    expect(await page.textContent(fact("version"))).toMatch(/^\d+\.\d+\.\d+/);
    expect(await page.textContent(fact("uptime"))).toMatch(/^\d+[dhms]/);
    expect(await page.textContent(fact("load"))).toMatch(/^\d+\.\d\d \d+\.\d\d \d+\.\d\d$/);
    expect(await page.textContent(fact("memory"))).toMatch(/^\d+% of [\d.]+ [KMGT]iB$/);
    expect(await page.textContent(fact("disk"))).toMatch(/^\d+% of [\d.]+ [KMGT]iB$/);
    expect(await page.textContent(fact("last-seen"))).toBe("now");
    expect(await page.textContent(fact("id"))).toBe(rig.agentId);
    // One server, not a cluster: no node to name.
    expect(await page.$(`#agent-facts [data-fact="node"]`)).toBeNull();
    expect(await page.textContent("#agent-labels")).toContain("role=web");
    expect(await page.textContent("#agent-labels")).toContain("site=lab-1");
    await shot("agent-header");

    // Live, without a reload: a second holder and a new server label appear, then the holder goes.
    // dave rather than bob, whose sessions the sessions and audit tests count.
    const dave = createTechnicianClient(rig.url, await rig.mintToken("dave", "tech"));
    const { session } = await dave.openTunnel({ agentId: rig.agentId });
    await createTechnicianClient(rig.url, carolToken).setAgentLabels({ agentId: rig.agentId, set: { rack: "r7" } });
    await page.waitForSelector(`${fact("holders")} [data-holder="dave"]`);
    await page.waitForSelector('#agent-labels .chip.server[data-label-key="rack"]:has-text("rack=r7")');
    await dave.closeTunnel({ sessionId: session!.id });
    await page.waitForSelector(`${fact("holders")}:not(:has([data-holder="dave"]))`);
  });

  it("runs a job over two agents by selector, follows both steps live, and opens one agent's output", async () => {
    // Each step waits for a file the test creates, so the page must show the steps running, then their end, live.
    const gate = join(rig.dir, "job-gate");
    await page.goto(`${rig.url}/#/jobs`);
    await page.fill("#job-selector", "env in (");
    await page.waitForSelector("#job-matches.error");
    await page.fill("#job-command", "true");
    await page.click("#job-create");
    await page.waitForSelector("#job-error:not([hidden]):has-text('InvalidArgument')");
    await page.fill("#job-selector", "env=test");
    await page.waitForSelector("#job-matches:has-text('Matches 2 agents, 2 online')");
    await page.fill("#job-command", `until [ -e ${gate} ]; do sleep 0.05; done; echo job-ran; echo job-err >&2`);
    await page.click("#job-create");
    await page.waitForURL(/#\/jobs\/[^/]+$/);
    const jobId = decodeURIComponent(page.url().split("#/jobs/")[1]!);
    for (const id of [rig.agentId, secondId]) await page.waitForSelector(`#job-steps ${row(id)}[data-state="running"]`);
    expect(await page.isVisible("#job-cancel")).toBe(true);
    writeFileSync(gate, "");
    await page.waitForSelector("#job-live[data-finished='true']");
    for (const id of [rig.agentId, secondId]) {
      const step = `#job-steps ${row(id)}`;
      expect(await page.getAttribute(step, "data-state")).toBe("succeeded");
      expect(await page.textContent(`${step} td.first-line`)).toBe("job-ran");
    }
    expect(await page.textContent("#job-totals")).toBe("2/2 done · 2 succeeded");
    expect(await page.isVisible("#job-cancel")).toBe(false);
    await shot("job");

    await page.click(`[data-output="${secondId}"]`);
    await page.waitForSelector("#job-output-stdout:has-text('job-ran')");
    expect(await page.textContent("#job-output-stderr")).toBe("job-err\n");
    expect(await page.textContent("#job-output-status")).toContain("exit status 0");
    await page.locator("#job-output").scrollIntoViewIfNeeded();
    await shot("job-output");

    await page.click("#nav-jobs");
    await page.waitForSelector(`tr[data-job-id="${jobId}"]:has-text('2/2')`);
    expect(await page.textContent(`tr[data-job-id="${jobId}"]`)).toContain("carol");
    await page.fill("#job-selector", "env=test,role=web");
    await page.waitForSelector("#job-matches:has-text('Matches 1 agent,')");
    await shot("jobs");
  });

  it("cancels a running job from its page", async () => {
    await page.goto(`${rig.url}/#/jobs`);
    await page.fill("#job-selector", "role=db");
    await page.waitForSelector("#job-matches:has-text('Matches 1 agent,')");
    await page.fill("#job-command", `until [ -e ${join(rig.dir, "never")} ]; do sleep 0.05; done`);
    await page.click("#job-create");
    await page.waitForSelector(`#job-steps ${row(secondId)}[data-state="running"]`);
    await page.click("#job-cancel");
    await page.waitForSelector("#job-live[data-finished='true']");
    expect(await page.getAttribute(`#job-steps ${row(secondId)}`, "data-state")).toBe("cancelled");
    expect(await page.textContent("#job-meta")).toMatch(/^cancelled job /);
  });

  it("lists the sessions just held, filtered by technician and state, a page at a time", async () => {
    for (let i = 0; i < SESSIONS_TO_PAGE; i++) {
      const { session } = await bob.openTunnel({ agentId: secondId });
      await bob.closeTunnel({ sessionId: session!.id });
    }
    await page.goto(`${rig.url}/#/sessions?technician=bob`);
    await page.waitForSelector("#sessions-status:has-text('Page 1 · 25 shown')");
    const technicians = () =>
      page.$$eval("#sessions-table tbody tr td:nth-child(3)", (c) => c.map((x) => x.textContent));
    expect(new Set(await technicians())).toEqual(new Set(["bob"]));
    await page.click("#sessions-older");
    // bob's sessions: the one on the first agent and SESSIONS_TO_PAGE on the second.
    await page.waitForSelector(`#sessions-status:has-text('Page 2 · ${SESSIONS_TO_PAGE + 1 - 25} shown · the end')`);
    await page.click("#sessions-newer");
    await page.waitForSelector("#sessions-status:has-text('Page 1')");
    await page.selectOption("#sessions-filters-state", "2");
    await page.waitForSelector("#sessions-table td.empty:has-text('No session matches')");
    await page.fill("#sessions-filters-technician", "");
    await page.selectOption("#sessions-filters-state", "");
    await page.waitForSelector(`#sessions-table tr[data-state="closed"]:has-text("closed by the technician")`);
    await shot("sessions");
  });

  it("lists the audit events of what was just done, filtered by actor and action, a page at a time", async () => {
    await page.goto(`${rig.url}/#/audit?actor=tech:bob&action=tunnel.open`);
    await page.waitForSelector("#audit-status:has-text('Page 1 · 25 shown')");
    const actions = () => page.$$eval("#audit-table tbody tr", (r) => r.map((x) => x.getAttribute("data-action")));
    expect(new Set(await actions())).toEqual(new Set(["tunnel.open"]));
    await page.click("#audit-older");
    await page.waitForSelector(`#audit-status:has-text('Page 2 · ${SESSIONS_TO_PAGE + 1 - 25} shown · the end')`);
    await page.fill("#audit-filters-actor", "tech:carol");
    await page.fill("#audit-filters-action", "");
    await page.click("#audit-filters button[type=submit]");
    await page.waitForSelector('#audit-table tr[data-action="job.create"]');
    await page.waitForSelector('#audit-table tr[data-action="agent.labels"]');
    await shot("audit");
  });

  it("lists the terminal just recorded and plays it back in the page", async () => {
    await page.goto(`${rig.url}/#/agents/${secondId}/terminal`);
    await page.waitForSelector("#terminal-status:has-text('Connected')");
    await page.click("#terminal");
    await page.keyboard.type("echo recorded-$((6*7))\n");
    await until(
      async () => (await page.locator("#terminal .xterm-rows").innerText()).includes("recorded-42"),
      "the echo in the terminal",
    );
    await page.keyboard.type("exit\n");
    await page.waitForSelector("#terminal-status:has-text('status 0')");
    await page.click("#nav-recordings");
    const recorded = '#recordings-table tr:has-text("carol"):has-text("completed")';
    await page.waitForSelector(recorded);
    await shot("recordings");
    await page.click(`${recorded} [data-play]`);
    await page.waitForSelector("#recording-status[data-done='true']");
    expect(await page.locator("#recording-screen .xterm-rows").innerText()).toContain("recorded-42");
    expect(await page.textContent("#recording-meta")).toContain("completed");
    await shot("recording");
  });
});
