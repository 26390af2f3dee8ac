import { OutputStream } from "../../../gen/rmm/v1/exec_pb.js";
import { describeError, type TunnelClient } from "../api/browser-client.js";
import { h } from "../ui/h.js";
import type { View } from "./view.js";

/** One command through the agent's shell, stdout and stderr shown as they arrive, then the exit status. */
export function runPanel(root: HTMLElement, client: TunnelClient, sessionId: string): View {
  const shell = h("input", {
    type: "text",
    id: "run-shell",
    value: "/bin/sh",
    class: "shell",
    spellcheck: "false",
    "aria-label": "Shell",
  });
  const command = h("input", {
    type: "text",
    id: "run-command",
    placeholder: "uname -a",
    spellcheck: "false",
    "aria-label": "Command",
  });
  const runButton = h("button", { type: "submit", class: "primary", id: "run-start" }, "Run");
  const stop = h("button", { type: "button", id: "run-stop", disabled: true }, "Stop");
  const output = h("pre", { class: "output", id: "run-output" });
  const status = h("p", { class: "muted small", id: "run-status" });
  let abort: AbortController | undefined;
  const decoder = new TextDecoder();

  const run = async (commandLine: string) => {
    abort = new AbortController();
    output.replaceChildren();
    status.textContent = "Running…";
    runButton.disabled = true;
    stop.disabled = false;
    try {
      for await (const msg of client.exec(
        { sessionId, params: { shellCommand: { shell: shell.value.trim(), commandLine } } },
        { signal: abort.signal },
      )) {
        if (msg.kind.case === "started") status.textContent = `Running · pid ${msg.kind.value.pid}`;
        else if (msg.kind.case === "output") {
          const err = msg.kind.value.stream === OutputStream.STDERR;
          output.append(
            h("span", { class: err ? "stderr" : "stdout" }, decoder.decode(msg.kind.value.data, { stream: true })),
          );
          output.scrollTop = output.scrollHeight;
        } else if (msg.kind.case === "exit") {
          const e = msg.kind.value;
          status.textContent =
            e.exitCode !== undefined
              ? `Exited with status ${e.exitCode}`
              : e.timedOut
                ? "Timed out"
                : e.signal
                  ? `Killed by ${e.signal}`
                  : "Ended";
          status.dataset["exitCode"] = String(e.exitCode ?? "");
        }
      }
    } catch (err) {
      status.textContent = abort.signal.aborted ? "Stopped" : describeError(err);
    } finally {
      runButton.disabled = false;
      stop.disabled = true;
    }
  };
  stop.addEventListener("click", () => abort?.abort());
  const form = h(
    "form",
    {
      class: "row",
      onsubmit: (event: Event) => {
        event.preventDefault();
        if (command.value.trim() !== "") void run(command.value);
      },
    },
    shell,
    command,
    runButton,
    stop,
  );
  root.replaceChildren(form, status, output);
  command.focus();
  return { dispose: () => abort?.abort() };
}
