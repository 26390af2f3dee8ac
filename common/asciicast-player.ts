/**
 * Replays an asciicast v2 file (https://docs.asciinema.org/manual/asciicast/v2/)
 * the way `asciinema play` does: each output event is written when its time
 * comes, on a schedule kept against the clock (so slow writes do not add up),
 * divided by `speed`. Gaps longer than the idle limit (the flag, else the
 * file's own idle_time_limit) are shortened to it first. Resize and input
 * events are not replayed: the local terminal keeps its size.
 */
export interface PlayOptions {
  /** Playback rate: 2 plays twice as fast. Default 1. */
  speed?: number;
  /** Longest pause between two events, in recorded seconds; overrides the file's idle_time_limit. */
  idleLimitSeconds?: number;
  write: (text: string) => Promise<void> | void;
  clock?: PlayClock;
}

/** Time as the player sees it, so a test can drive it without sleeping. */
export interface PlayClock {
  now(): number;
  wait(ms: number): Promise<void>;
}

const REAL_CLOCK: PlayClock = {
  now: () => performance.now(),
  wait: (ms) => new Promise((done) => setTimeout(done, ms)),
};

export interface PlaySummary {
  /** Output events written. */
  events: number;
  /** The recording's length after the idle limit, in recorded seconds. */
  durationSeconds: number;
}

export class AsciicastError extends Error {}

export async function playAsciicast(chunks: AsyncIterable<Uint8Array>, opts: PlayOptions): Promise<PlaySummary> {
  const speed = opts.speed ?? 1;
  const clock = opts.clock ?? REAL_CLOCK;
  let idleLimit = opts.idleLimitSeconds;
  let header = true;
  let lineNo = 0;
  let last = 0;
  let virtual = 0;
  let events = 0;
  const started = clock.now();
  for await (const line of lines(chunks)) {
    lineNo++;
    if (!line.trim()) continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new AsciicastError(`line ${lineNo} is not JSON: this is not an asciicast v2 recording`);
    }
    if (header) {
      header = false;
      const h = value as { version?: unknown; idle_time_limit?: unknown };
      if (h?.version !== 2)
        throw new AsciicastError(`the header says version ${JSON.stringify(h?.version)}; only asciicast v2 plays`);
      if (idleLimit === undefined && typeof h.idle_time_limit === "number" && h.idle_time_limit > 0)
        idleLimit = h.idle_time_limit;
      continue;
    }
    if (!Array.isArray(value) || typeof value[0] !== "number" || typeof value[1] !== "string")
      throw new AsciicastError(`line ${lineNo} is not an event ([time, code, data])`);
    const [time, code, data] = value as [number, string, unknown];
    const gap = Math.max(0, time - last);
    last = time;
    virtual += idleLimit === undefined ? gap : Math.min(gap, idleLimit);
    if (code !== "o" || typeof data !== "string") continue;
    const due = started + (virtual * 1000) / speed;
    const ahead = due - clock.now();
    if (ahead > 0) await clock.wait(ahead);
    await opts.write(data);
    events++;
  }
  if (header) throw new AsciicastError("the recording is empty (no asciicast header)");
  return { events, durationSeconds: virtual };
}

/** Complete lines of UTF-8 text, however the bytes were split into chunks. */
async function* lines(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder("utf-8");
  let pending = "";
  for await (const chunk of chunks) {
    pending += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = pending.indexOf("\n")) >= 0) {
      yield pending.slice(0, end);
      pending = pending.slice(end + 1);
    }
  }
  pending += decoder.decode();
  if (pending) yield pending;
}
