import { Terminal } from "@xterm/xterm";
import "@xterm/xterm/css/xterm.css";
import { playAsciicast, type PlayClock } from "../../../common/asciicast-player.js";
import { openRecording } from "../../../client/recording-stream.js";
import type { Recording } from "../../../gen/rmm/v1/tunnel_service_pb.js";
import { describeError } from "../api/browser-client.js";
import { localTime } from "../ui/format.js";
import { bytes, h } from "../ui/h.js";
import type { View, ViewContext } from "./view.js";

/** Pauses longer than this are shortened to it when "skip pauses" is on. Defaults to 2 s, as `asciinema play -i 2`. */
export const SKIP_PAUSES_OVER_S = 2;
/** The terminal size when the header names none: asciicast's own default. */
const DEFAULT_SIZE = { width: 80, height: 24 };

/**
 * Plays one terminal recording in the page: the asciicast file is downloaded
 * (DownloadRecording) into memory, then written to an xterm.js of the
 * recorded size on its recorded schedule (the CLI's player), at the chosen
 * speed. Replay starts it again; Stop ends it where it is.
 */
export function recordingView(root: HTMLElement, ctx: ViewContext, recordingId: string): View {
  const title = h("h2", {}, `Recording ${recordingId}`);
  const meta = h("p", { class: "muted small", id: "recording-meta" }, "Downloading…");
  const status = h("span", { class: "muted small", id: "recording-status" });
  const speed = h(
    "select",
    { id: "recording-speed", "aria-label": "Speed" },
    ...[1, 2, 4, 8].map((s) => h("option", { value: String(s) }, `${s}×`)),
  );
  const skipPauses = h("input", { type: "checkbox", id: "recording-skip-pauses", checked: true });
  const replay = h("button", { type: "button", class: "primary", id: "recording-play", disabled: true }, "Replay");
  const stop = h("button", { type: "button", id: "recording-stop", disabled: true }, "Stop");
  const save = h("button", { type: "button", id: "recording-save", disabled: true }, "Download .cast");
  const screen = h("div", { class: "player", id: "recording-screen" });
  const abort = new AbortController();
  let playing: AbortController | undefined;
  let file: Uint8Array[] = [];
  let recording: Recording | undefined;
  let term: Terminal | undefined;

  const play = async () => {
    playing?.abort();
    const mine = new AbortController();
    playing = mine;
    const header = parseHeader(file);
    term?.dispose();
    term = new Terminal({
      cols: header.width,
      rows: header.height,
      disableStdin: true,
      cursorBlink: false,
      fontFamily: "ui-monospace, 'DejaVu Sans Mono', Menlo, monospace",
      fontSize: 13,
      scrollback: 0,
      // Black like the frame around it: the recorded size rarely fills the frame exactly.
      theme: { background: "#000000", foreground: "#e6e1cf" },
    });
    term.open(screen);
    const shown = term;
    stop.disabled = false;
    status.textContent = "Playing…";
    delete status.dataset["done"];
    try {
      const summary = await playAsciicast(chunksOf(file), {
        speed: Number(speed.value),
        ...(skipPauses.checked && { idleLimitSeconds: SKIP_PAUSES_OVER_S }),
        clock: abortableClock(mine.signal),
        write: (text) => {
          if (mine.signal.aborted) throw new Error("stopped");
          return new Promise<void>((done) => shown.write(text, done));
        },
      });
      status.textContent = `Played ${summary.events} updates, ${summary.durationSeconds.toFixed(1)} s of recording`;
      status.dataset["done"] = "true";
    } catch (err) {
      status.textContent = mine.signal.aborted ? "Stopped" : `Could not play: ${(err as Error).message}`;
    } finally {
      if (playing === mine) stop.disabled = true;
    }
  };

  const load = async () => {
    try {
      const stream = await openRecording(ctx.client, BigInt(recordingId), abort.signal);
      recording = stream.recording;
      const r = recording;
      title.textContent = `${r.technician} on ${r.agentId.slice(0, 8)}`;
      void ctx.client
        .getAgent({ agentId: r.agentId }, { signal: abort.signal })
        .then(({ agent }) => agent?.hostname && (title.textContent = `${r.technician} on ${agent.hostname}`))
        // A deleted agent keeps its recordings: the id stays the title.
        .catch(() => undefined);
      const parts: Uint8Array[] = [];
      let received = 0;
      for await (const chunk of stream.chunks) {
        parts.push(chunk);
        received += chunk.length;
        meta.textContent = `Downloading… ${bytes(received)} of ${bytes(Number(r.sizeBytes))}`;
      }
      file = parts;
      meta.textContent = [
        `${r.shell} · ${r.outcome}`,
        `started ${localTime(r.startTime)}`,
        r.endTime ? `ended ${localTime(r.endTime)}` : "still open",
        `session ${r.sessionId.slice(0, 8)}`,
        bytes(Number(r.sizeBytes)),
      ].join(" · ");
      replay.disabled = false;
      save.disabled = false;
      void play();
    } catch (err) {
      if (abort.signal.aborted) return;
      meta.textContent = `Could not download the recording: ${describeError(err)}`;
      meta.classList.add("error");
    }
  };

  replay.addEventListener("click", () => void play());
  stop.addEventListener("click", () => playing?.abort());
  save.addEventListener("click", () => {
    const url = URL.createObjectURL(
      new Blob(
        file.map((c) => new Uint8Array(c)),
        { type: "application/x-asciicast" },
      ),
    );
    h("a", { href: url, download: `recording-${recordingId}.cast` }).click();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  });
  root.replaceChildren(
    h(
      "main",
      { class: "page" },
      h("div", { class: "toolbar" }, h("a", { href: "#/recordings", class: "back" }, "← Recordings"), title),
      meta,
      h(
        "div",
        { class: "row" },
        replay,
        stop,
        h("label", { class: "check" }, "Speed", speed),
        h("label", { class: "check" }, skipPauses, `Skip pauses over ${SKIP_PAUSES_OVER_S} s`),
        h("span", { class: "spacer" }),
        save,
      ),
      h("div", { class: "player-frame" }, screen),
      status,
    ),
  );
  void load();
  return {
    dispose: () => {
      abort.abort();
      playing?.abort();
      term?.dispose();
    },
  };
}

/** The asciicast header's terminal size (its first line). */
function parseHeader(file: readonly Uint8Array[]): { width: number; height: number } {
  const text = new TextDecoder().decode(file[0]?.subarray(0, 4096) ?? new Uint8Array());
  try {
    const header = JSON.parse(text.split("\n")[0] ?? "") as { width?: unknown; height?: unknown };
    const size = (v: unknown, fallback: number) =>
      typeof v === "number" && Number.isInteger(v) && v > 0 && v <= 1000 ? v : fallback;
    return { width: size(header.width, DEFAULT_SIZE.width), height: size(header.height, DEFAULT_SIZE.height) };
  } catch {
    // Not JSON: the player reports what is wrong with the file when it reads it.
    return DEFAULT_SIZE;
  }
}

async function* chunksOf(file: readonly Uint8Array[]): AsyncGenerator<Uint8Array> {
  yield* file;
}

/** The real clock, whose waits end (rejecting) when playback is stopped. */
function abortableClock(signal: AbortSignal): PlayClock {
  return {
    now: () => performance.now(),
    wait: (ms) =>
      new Promise<void>((done, fail) => {
        if (signal.aborted) return fail(new Error("stopped"));
        const timer = setTimeout(done, ms);
        signal.addEventListener("abort", () => (clearTimeout(timer), fail(new Error("stopped"))), { once: true });
      }),
  };
}
