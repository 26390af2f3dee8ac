import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";
import "@xterm/xterm/css/xterm.css";
import { ChannelClient } from "../../../client/channel-client.js";
import { ChannelType } from "../../../gen/rmm/v1/frame_pb.js";
import { describeError, type TunnelClient } from "../api/browser-client.js";
import { h } from "../ui/h.js";
import type { View } from "./view.js";

/**
 * A shell on the agent in xterm.js. Output is written to xterm before its
 * credit goes back to the agent, so a tab that cannot keep up pauses the
 * remote program instead of buffering without bound.
 */
export function terminalPanel(root: HTMLElement, client: TunnelClient, sessionId: string): View {
  const status = h("span", { class: "muted small", id: "terminal-status" }, "Connecting…");
  const restart = h("button", { type: "button", id: "terminal-restart", hidden: true }, "New terminal");
  const screen = h("div", { class: "terminal", id: "terminal" });
  root.replaceChildren(h("div", { class: "panel-bar" }, status, restart), screen);
  const term = new Terminal({
    cursorBlink: true,
    fontFamily: "ui-monospace, 'DejaVu Sans Mono', Menlo, monospace",
    fontSize: 13,
    scrollback: 5000,
    theme: { background: "#0f1419", foreground: "#e6e1cf" },
  });
  const fit = new FitAddon();
  term.loadAddon(fit);
  // Ctrl+C belongs to the remote program; Ctrl+Shift+C copies the selection (pasting is xterm's own).
  term.attachCustomKeyEventHandler((event) => {
    if (event.type !== "keydown" || !event.ctrlKey || !event.shiftKey || event.code !== "KeyC") return true;
    if (term.hasSelection()) void navigator.clipboard?.writeText(term.getSelection()).catch(() => undefined);
    return false;
  });
  term.open(screen);
  fit.fit();
  const abort = new AbortController();
  const onWindowResize = () => fit.fit();
  const observer = new ResizeObserver(onWindowResize);
  observer.observe(screen);
  window.addEventListener("resize", onWindowResize);

  const run = async () => {
    const channel = await ChannelClient.open(client, {
      sessionId,
      type: ChannelType.TERMINAL,
      params: { case: "terminal", value: { size: { columns: term.cols, rows: term.rows }, term: "xterm-256color" } },
      signal: abort.signal,
    });
    status.textContent = `Connected · ${term.cols}×${term.rows}`;
    const encoder = new TextEncoder();
    let writes = Promise.resolve();
    const input = term.onData((data) => {
      writes = writes.then(() => channel.write(encoder.encode(data))).catch(() => undefined);
    });
    const resize = term.onResize(({ cols, rows }) => {
      channel.resize(cols, rows);
      status.textContent = `Connected · ${cols}×${rows}`;
    });
    term.focus();
    for await (const chunk of channel.data()) await new Promise<void>((resolve) => term.write(chunk, resolve));
    const end = await channel.ended;
    input.dispose();
    resize.dispose();
    const exit = end.exit;
    status.textContent =
      exit?.exitCode !== undefined
        ? `Shell exited with status ${exit.exitCode}`
        : exit?.signal
          ? `Shell killed by ${exit.signal}`
          : end.code !== 0
            ? `Terminal closed: ${end.message}`
            : "Terminal closed";
    status.dataset["exitCode"] = String(exit?.exitCode ?? "");
    restart.hidden = false;
  };
  restart.addEventListener("click", () => {
    restart.hidden = true;
    term.reset();
    void run().catch(failed);
  });
  const failed = (err: unknown) => {
    if (abort.signal.aborted) return;
    status.textContent = `Terminal failed: ${describeError(err)}`;
    restart.hidden = false;
  };
  void run().catch(failed);
  return {
    dispose: () => {
      abort.abort();
      observer.disconnect();
      window.removeEventListener("resize", onWindowResize);
      term.dispose();
    },
  };
}
