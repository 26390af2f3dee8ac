import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTechnicianClient } from "../../client/technician-client.js";
import { launchTestBrowser, screenshots, WEB_ARTIFACTS, type TestBrowser } from "../../testkit/browser.js";
import { startAgentRig, type AgentRig } from "../../testkit/agent-rig.js";
import { SERVER_MAIN } from "../../testkit/managed-process.js";
import { until } from "../support/until.js";

const run = promisify(execFile);
const WRITE_SYSCALL: Partial<Record<string, number>> = { x64: 1, arm64: 64 };

/** The process sleeps in write(1, ...): nobody drains its terminal (Linux /proc/PID/syscall). */
function blockedWritingStdout(pid: number): boolean {
  const [nr, fd] = readFileSync(`/proc/${pid}/syscall`, "utf8").split(" ");
  return Number(nr) === WRITE_SYSCALL[process.arch] && fd === "0x1";
}

/** Bytes the process has written so far (Linux /proc/PID/io). */
function bytesWritten(pid: number): number {
  return Number(/^wchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, "utf8"))?.[1]);
}

/** The pid of the one process whose command line is exactly `commandLine`, if it runs. */
function pidOf(commandLine: string): number | undefined {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ").trim() === commandLine)
        return Number(entry);
    } catch {
      // The process ended while we looked.
    }
  }
  return undefined;
}

describe("web console in a real browser", () => {
  let rig: AgentRig;
  let browser: TestBrowser;
  let page: Page;
  let filesDir: string;

  const shot = (name: string) => screenshots(page, name);
  const terminalText = () => page.locator("#terminal .xterm-rows").innerText();

  beforeAll(async () => {
    mkdirSync(WEB_ARTIFACTS, { recursive: true });
    rig = await startAgentRig("sqlite", { logLevel: "info" });
    filesDir = join(rig.dir, "files");
    mkdirSync(filesDir);
    browser = await launchTestBrowser();
    page = await browser.context.newPage();
    page.on("pageerror", (e) => console.log("[page error]", e.message));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await rig?.stop();
  });

  it("serves the console with a strict policy and immutable hashed assets", async () => {
    const index = await fetch(`${rig.url}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(index.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(index.headers.get("x-content-type-options")).toBe("nosniff");
    expect(index.headers.get("cache-control")).toBe("no-cache");
    const html = await index.text();
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    const script = html.match(/src="(\/assets\/[^"]+\.js)"/)?.[1];
    const asset = await fetch(`${rig.url}${script}`);
    expect(asset.headers.get("cache-control")).toContain("immutable");
    expect((await fetch(`${rig.url}/nothing-here.js`)).status).toBe(404);
  });

  it("shows the sign-in page with the server's reason for a bad token", async () => {
    await page.goto(`${rig.url}/`);
    await page.fill("#token", "not-a-jwt");
    await page.click("button[type=submit]");
    await page.waitForSelector("#sign-in-reason");
    expect(await page.textContent("#sign-in-reason")).toMatch(/^Signed out: technician token is malformed/);
    await shot("sign-in");
  });

  it("signs in from the link `rmm-server token --web` prints, drops the token from the address bar, lists the agent online", async () => {
    const { stdout } = await run(process.execPath, [
      SERVER_MAIN,
      ...["token", "--sub", "alice", "--web", rig.url, "--data-dir", rig.serverDir],
    ]);
    await page.goto(stdout.trim());
    expect(page.url()).not.toContain("token=");
    await page.waitForSelector(`tr[data-agent-id="${rig.agentId}"][data-online="true"]`);
    expect(await page.textContent("#who")).toBe("alice");
  });

  it("shows a second agent, and shows it offline once its process is killed", async () => {
    const second = await rig.startAgent("second");
    const row = `tr[data-agent-id="${second.agentId}"]`;
    await page.waitForSelector(`${row}[data-online="true"]`);
    await shot("fleet");
    await second.agent.stop("SIGKILL");
    await page.waitForSelector(`${row}[data-online="false"]`);
  });

  it("runs a terminal: echo, stty size follows the viewport, a frozen tab pauses the program, exit status", async () => {
    await page.goto(`${rig.url}/#/agents/${rig.agentId}/terminal`);
    await page.waitForSelector("#terminal-status:has-text('Connected')");
    await page.click("#terminal");
    await page.keyboard.type("echo hi-$((40+2))\n");
    await until(async () => (await terminalText()).includes("hi-42"), "the echo in the terminal");
    await shot("terminal");
    for (const viewport of [
      { width: 900, height: 600 },
      { width: 1280, height: 800 },
    ]) {
      const sizeShown = async () => {
        const m = ((await page.textContent("#terminal-status")) ?? "").match(/(\d+)×(\d+)/);
        return m ? `${m[2]} ${m[1]}` : "";
      };
      // The size before this viewport: on a busy machine the resize may not have reached the status line yet.
      const before = await sizeShown();
      await page.setViewportSize(viewport);
      let size = "";
      await until(async () => {
        const next = await sizeShown();
        const settled = next !== "" && next !== before && next === size;
        size = next;
        return settled;
      }, "the terminal size in the status line to change and settle");
      await page.keyboard.type("clear; stty size\n");
      await until(async () => (await terminalText()).includes(size), `stty size to print ${size}`);
    }
    // Flow control end to end: with the tab frozen (as browsers freeze background tabs), xterm takes nothing, no credit goes back, and
    // the remote program soon sleeps in write() to its terminal, far short of what it would write unpaused.
    await page.keyboard.type("yes rmm-flow-marker\n");
    let found: number | undefined;
    await until(() => (found = pidOf("yes rmm-flow-marker")) !== undefined, "yes to start");
    const pid = found!;
    const cdp = await browser.context.newCDPSession(page);
    await cdp.send("Page.setWebLifecycleState", { state: "frozen" });
    await until(() => blockedWritingStdout(pid), "yes to block writing to its terminal");
    const whilePaused = bytesWritten(pid);
    expect(whilePaused).toBeLessThan(64 << 20);
    await cdp.send("Page.setWebLifecycleState", { state: "active" });
    await until(() => bytesWritten(pid) > whilePaused, "yes to write again once the tab runs");
    await cdp.detach();
    await page.keyboard.press("Control+C");
    await until(() => pidOf("yes rmm-flow-marker") === undefined, "yes to end on Ctrl+C");
    await page.keyboard.type("exit 3\n");
    await page.waitForSelector("#terminal-status:has-text('status 3')");
  });

  it("uploads a file through the file input and downloads it back byte-identical", async () => {
    const content = randomBytes(300 * 1024 + 17);
    const local = join(rig.dir, "upload.bin");
    writeFileSync(local, content);
    await page.goto(`${rig.url}/#/agents/${rig.agentId}/files`);
    await page.waitForSelector("#files-status:has-text('entries')");
    // It starts in the agent user's home (the agent runs as this test's user).
    expect(await page.inputValue("#files-path")).toBe(homedir());
    await page.fill("#files-path", filesDir);
    await page.click("form.row button[type=submit]");
    await page.waitForSelector(`#files-status:has-text('${filesDir}')`);
    await page.setInputFiles("#files-upload", local);
    await page.waitForSelector("#files-status:has-text('Uploaded upload.bin')");
    expect(readFileSync(join(filesDir, "upload.bin")).equals(content)).toBe(true);
    await page.waitForSelector('tr[data-name="upload.bin"]');
    await shot("files");
    const [download] = await Promise.all([page.waitForEvent("download"), page.click('[data-download="upload.bin"]')]);
    expect(download.suggestedFilename()).toBe("upload.bin");
    expect(readFileSync(await download.path()).equals(content)).toBe(true);
    expect(await page.textContent('tr[data-name="upload.bin"] td[data-label="Mode"]')).toBe("0644");
    // A path that names a file shows its Stat.
    await page.fill("#files-path", join(filesDir, "upload.bin"));
    await page.click("form.row button[type=submit]");
    await page.waitForSelector(`#files-status:has-text('${join(filesDir, "upload.bin")}: file')`);
    expect(await page.textContent("#files-status")).toMatch(/: file, 300\.0 KiB, mode 0644, modified /);
    await page.click("#files-drop a.dir");
    await page.waitForSelector(`#files-status:has-text('entries in ${filesDir}')`);
  });

  it("uploads a file dropped on the list, verified by SHA-256, and downloads it back byte-identical", async () => {
    // Still on the files page of the test before, in filesDir.
    const content = randomBytes(200 * 1024 + 5);
    const digest = createHash("sha256").update(content).digest("hex");
    // A real drop event: the DataTransfer and its File are built inside the page, as a drag from the desktop makes them.
    const dataTransfer = await page.evaluateHandle(
      ({ name, base64 }) => {
        // This runs in the page; the tests compile without the DOM's types, so name the two it uses.
        const page = globalThis as unknown as {
          DataTransfer: new () => { items: { add(file: unknown): unknown } };
          File: new (parts: Uint8Array[], name: string, options: { type: string }) => unknown;
        };
        const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
        const transfer = new page.DataTransfer();
        transfer.items.add(new page.File([bytes], name, { type: "application/octet-stream" }));
        return transfer;
      },
      { name: "dropped.bin", base64: content.toString("base64") },
    );
    await page.dispatchEvent("#files-drop", "dragover", { dataTransfer });
    expect(await page.getAttribute("#files-drop", "class")).toContain("over");
    await page.dispatchEvent("#files-drop", "drop", { dataTransfer });
    await page.waitForSelector("#files-status:has-text('Uploaded dropped.bin')");
    expect(await page.textContent("#files-status")).toContain("SHA-256 verified");
    expect(
      createHash("sha256")
        .update(readFileSync(join(filesDir, "dropped.bin")))
        .digest("hex"),
    ).toBe(digest);
    const [download] = await Promise.all([page.waitForEvent("download"), page.click('[data-download="dropped.bin"]')]);
    expect(
      createHash("sha256")
        .update(readFileSync(await download.path()))
        .digest("hex"),
    ).toBe(digest);
  });

  it("runs a command and shows stdout, stderr and the exit status", async () => {
    await page.goto(`${rig.url}/#/agents/${rig.agentId}/run`);
    await page.waitForSelector("#run-command");
    await page.fill("#run-command", "echo to-out; echo to-err >&2; exit 4");
    await page.click("#run-start");
    await page.waitForSelector("#run-status:has-text('status 4')");
    expect(await page.textContent("#run-output .stdout")).toContain("to-out");
    expect(await page.textContent("#run-output .stderr")).toContain("to-err");
    await shot("run");
  });

  it("closes the agent's session when the tab closes", async () => {
    const client = createTechnicianClient(rig.url, await rig.mintToken("observer", "admin"));
    const session = async () => (await client.listAgents({})).agents.find((a) => a.id === rig.agentId)?.activeSessionId;
    expect(await session()).not.toBe("");
    await page.close({ runBeforeUnload: true });
    await until(async () => (await session()) === "", "the session to close with the tab");
    page = await browser.context.newPage();
  });

  it("sends the user back to sign-in with the reason once the token expires", async () => {
    const token = await rig.mintToken("bob", "tech", 2);
    await page.goto(`${rig.url}/?token=${token}#/`);
    await page.waitForSelector(`tr[data-agent-id="${rig.agentId}"]`);
    await page.waitForSelector("#sign-in-reason", { timeout: 15_000 });
    expect(await page.textContent("#sign-in-reason")).toMatch(/expired/);
    expect(await page.evaluate("sessionStorage.getItem('rmm.token')")).toBeNull();
  });
  it("sends the user back to sign-in with the server's reason once the token is revoked", async () => {
    const token = await rig.mintToken("erin", "tech");
    await page.goto(`${rig.url}/?token=${token}#/`);
    await page.waitForSelector(`tr[data-agent-id="${rig.agentId}"]`);
    await run(process.execPath, [
      SERVER_MAIN,
      ...["revoke-token", "--sub", "erin", "--reason", "laptop lost", "--data-dir", rig.serverDir, "--db", rig.dbUrl],
    ]);
    // The server reads revocations every REVOCATION_REFRESH_MS (10 s); the fleet's next listing after that is refused.
    await page.waitForSelector("#sign-in-reason", { timeout: 30_000 });
    expect(await page.textContent("#sign-in-reason")).toMatch(/^Signed out: .*erin.*revoked/);
    expect(await page.evaluate("sessionStorage.getItem('rmm.token')")).toBeNull();
  }, 45_000);
});
