import { describe, expect, it } from "vitest";
import { AsciicastError, playAsciicast, type PlayClock } from "./asciicast-player.js";

/** A clock that only moves when the player waits, recording every wait. */
function fakeClock(): PlayClock & { waits: number[]; at: number } {
  const clock = {
    at: 0,
    waits: [] as number[],
    now: () => clock.at,
    wait: async (ms: number) => {
      clock.waits.push(Math.round(ms));
      clock.at += ms;
    },
  };
  return clock;
}

const cast = (header: object, ...events: unknown[]) =>
  [JSON.stringify(header), ...events.map((e) => JSON.stringify(e))].join("\n") + "\n";

async function* chunked(text: string, size: number): AsyncGenerator<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function play(text: string, opts: { speed?: number; idleLimitSeconds?: number; chunk?: number } = {}) {
  const clock = fakeClock();
  const written: Array<{ at: number; text: string }> = [];
  const summary = await playAsciicast(chunked(text, opts.chunk ?? 7), {
    ...opts,
    clock,
    write: (t) => void written.push({ at: Math.round(clock.at), text: t }),
  });
  return { clock, written, summary };
}

describe("playing an asciicast v2 recording", () => {
  const header = { version: 2, width: 80, height: 24 };

  it("writes each output event at its recorded time, whatever the chunking, skipping resizes", async () => {
    const { written, summary } = await play(
      cast(header, [0.5, "o", "a"], [1.25, "r", "100x30"], [2, "o", "é€"], [2, "o", "c"]),
      { chunk: 3 },
    );
    expect(written).toEqual([
      { at: 500, text: "a" },
      { at: 2000, text: "é€" },
      { at: 2000, text: "c" },
    ]);
    expect(summary).toEqual({ events: 3, durationSeconds: 2 });
  });

  it("divides every pause by --speed", async () => {
    const { written } = await play(cast(header, [1, "o", "a"], [3, "o", "b"]), { speed: 4 });
    expect(written.map((w) => w.at)).toEqual([250, 750]);
  });

  it("shortens idle gaps to the idle limit: the flag over the file's idle_time_limit", async () => {
    const events = [
      [1, "o", "a"],
      [61, "o", "b"],
      [62, "o", "c"],
    ];
    expect((await play(cast({ ...header, idle_time_limit: 2 }, ...events))).written.map((w) => w.at)).toEqual([
      1000, 3000, 4000,
    ]);
    const flagged = await play(cast({ ...header, idle_time_limit: 2 }, ...events), { idleLimitSeconds: 0.5 });
    expect(flagged.written.map((w) => w.at)).toEqual([500, 1000, 1500]);
    expect(flagged.summary.durationSeconds).toBe(1.5);
  });

  it("refuses what is not an asciicast v2 file, naming the line", async () => {
    await expect(play(cast({ version: 1 }))).rejects.toThrow(/version 1; only asciicast v2/);
    await expect(play("not json\n")).rejects.toThrow(AsciicastError);
    await expect(play(cast(header) + '{"x":1}\n')).rejects.toThrow(/line 2 is not an event/);
    await expect(play("")).rejects.toThrow(/empty/);
  });
});
