import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AsciicastRecorder } from "./asciicast-recorder.js";

describe("asciicast recorder", () => {
  const dir = mkdtempSync(join(tmpdir(), "rmm-cast-"));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("writes a v2 header, output and resize events, and keeps a character split across chunks whole", async () => {
    const path = join(dir, "s", "1.cast");
    const rec = new AsciicastRecorder(path, { columns: 80, rows: 24 }, { term: "xterm-256color", shell: "/bin/sh" });
    const bytes = Buffer.from("café ✓\r\n");
    rec.output(bytes.subarray(0, 4));
    rec.output(bytes.subarray(4, 8));
    rec.resize(100, 40);
    rec.output(bytes.subarray(8));
    await rec.close();
    const [header, ...events] = readFileSync(path, "utf8").trimEnd().split("\n").map((l) => JSON.parse(l) as unknown[]);
    expect(header).toMatchObject({ version: 2, width: 80, height: 24, env: { TERM: "xterm-256color" } });
    expect(events.map((e) => e.slice(1))).toEqual([["o", "caf"], ["o", "é "], ["r", "100x40"], ["o", "✓\r\n"]]);
    expect(events.filter((e) => e[1] === "o").map((e) => e[2]).join("")).toBe(bytes.toString());
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });
});
