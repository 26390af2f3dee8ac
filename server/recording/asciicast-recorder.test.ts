import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Logger } from "../../common/logger.js";
import { AsciicastRecorder } from "./asciicast-recorder.js";

/** Collects what the recorder logs, in place of pino. */
function logSink() {
  const warnings: Array<{ obj: unknown; msg: string | undefined }> = [];
  const warn = ((obj: unknown, msg?: string) => warnings.push({ obj, msg })) as unknown as Pick<Logger, "warn">["warn"];
  return { warnings, log: { warn } };
}

describe("asciicast recorder", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "rmm-cast-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("writes a v2 header, output and resize events, and keeps a character split across chunks whole", async () => {
    const path = join(dir, "s", "1.cast");
    const rec = new AsciicastRecorder(
      path,
      { columns: 80, rows: 24 },
      { term: "xterm-256color", shell: "/bin/sh" },
      logSink().log,
    );
    const bytes = Buffer.from("café ✓\r\n");
    rec.output(bytes.subarray(0, 4));
    rec.output(bytes.subarray(4, 8));
    rec.resize(100, 40);
    rec.output(bytes.subarray(8));
    await rec.close();
    const [header, ...events] = readFileSync(path, "utf8")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as unknown[]);
    expect(header).toMatchObject({ version: 2, width: 80, height: 24, env: { TERM: "xterm-256color" } });
    expect(events.map((e) => e.slice(1))).toEqual([
      ["o", "caf"],
      ["o", "é "],
      ["r", "100x40"],
      ["o", "✓\r\n"],
    ]);
    expect(
      events
        .filter((e) => e[1] === "o")
        .map((e) => e[2])
        .join(""),
    ).toBe(bytes.toString());
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it("survives a path it cannot write (a directory under a regular file): logs it with the path, stops recording, and close() resolves", async () => {
    const file = join(dir, "not-a-directory");
    writeFileSync(file, "");
    const { warnings, log } = logSink();
    const path = join(file, "s", "1.cast");
    const rec = new AsciicastRecorder(
      path,
      { columns: 80, rows: 24 },
      { term: "xterm-256color", shell: "/bin/sh" },
      log,
    );
    rec.output(Buffer.from("still running\r\n"));
    rec.resize(100, 40);
    await rec.close();
    expect(rec.failed).toBeInstanceOf(Error);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ obj: { path }, msg: expect.stringMatching(/no longer recorded/) });
  });

  it("survives the file failing to open after construction (EISDIR) without an unhandled error event", async () => {
    const { warnings, log } = logSink();
    const rec = new AsciicastRecorder(
      dir,
      { columns: 80, rows: 24 },
      { term: "xterm-256color", shell: "/bin/sh" },
      log,
    );
    rec.output(Buffer.from("output after the failure\r\n"));
    await rec.close();
    expect(rec.failed).toBeInstanceOf(Error);
    expect(warnings).toHaveLength(1);
  });
});
