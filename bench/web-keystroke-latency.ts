// Keystroke-to-echo latency of the web console's terminal (WebSocket bridge), beside the round trip of one
// unary Connect call from the same page: the floor of the other design (keystrokes as sequenced unary
// calls), which pays that round trip per keystroke before the echo even starts back. Both are timed inside
// the page (performance.now at keydown, and when xterm's rows change), in headless chromium.
// Run: npm run build && node dist/bench/web-keystroke-latency.js
import { launchTestBrowser } from "../testkit/browser.js";
import { startAgentRig } from "../testkit/agent-rig.js";

const KEYS = 200;
const WARMUP = 20;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
function p90(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length * 0.9)]!;
}

const rig = await startAgentRig("sqlite", { logLevel: "info" });
const browser = await launchTestBrowser();
try {
  const token = await rig.mintToken("bench");
  const page = await browser.context.newPage();
  await page.goto(`${rig.url}/?token=${token}#/agents/${rig.agentId}/terminal`);
  await page.waitForSelector("#terminal-status:has-text('Connected')");
  await page.click("#terminal");
  // Page code as strings: this file is compiled for Node, without the DOM's types.
  await page.evaluate(`
    document.addEventListener("keydown", () => (window.lastKey = performance.now()), true);
    new MutationObserver(() => (window.lastEcho = performance.now()))
      .observe(document.querySelector("#terminal .xterm-rows"), { subtree: true, childList: true, characterData: true });
  `);
  const echo: number[] = [];
  for (let i = 0; i < KEYS + WARMUP; i++) {
    await page.evaluate("window.lastEcho = 0");
    await page.keyboard.press("a");
    await page.waitForFunction(() => {
      const w = globalThis as unknown as { lastKey: number; lastEcho: number };
      return w.lastEcho > w.lastKey;
    });
    const ms = (await page.evaluate("window.lastEcho - window.lastKey")) as number;
    if (i >= WARMUP) echo.push(ms);
    if (i % 50 === 49) await page.keyboard.press("Control+U");
  }
  const unary = await page.evaluate(
    async ({ token, n }) => {
      const times: number[] = [];
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        const res = await fetch("/rmm.v1.TunnelService/ListAgents", {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
          body: JSON.stringify({ pageSize: 1 }),
        });
        await res.arrayBuffer();
        times.push(performance.now() - t0);
      }
      return times;
    },
    { token, n: KEYS + WARMUP },
  );
  const u = unary.slice(WARMUP);
  const fmt = (xs: number[]) => `p50 ${median(xs).toFixed(2)} ms, p90 ${p90(xs).toFixed(2)} ms`;
  process.stdout.write(`keystroke -> echo over the WebSocket bridge (${KEYS} keys): ${fmt(echo)}\n`);
  process.stdout.write(`one unary Connect call from the page (${KEYS} calls):      ${fmt(u)}\n`);
} finally {
  await browser.close();
  await rig.stop();
}
