import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { SERVER_MAIN } from "../../testkit/managed-process.js";

/** Runs `rmm-server serve` with `env` until it logs that it listens (or exits); returns its stderr lines. */
async function serverStartLines(env: Record<string, string>): Promise<{ lines: string[]; exitCode: number | null }> {
  const dataDir = mkdtempSync(join(tmpdir(), "rmm-logfmt-"));
  dirs.push(dataDir);
  const child = spawn(process.execPath, [SERVER_MAIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir], {
    env: { ...process.env, RMM_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  await new Promise<void>((resolve) => {
    createInterface({ input: child.stderr }).on("line", (line) => {
      lines.push(line);
      if (line.includes("rmm-server listening")) resolve();
    });
    void exited.then(() => resolve());
  });
  if (child.exitCode === null) child.kill("SIGTERM");
  return { lines, exitCode: await exited };
}

const dirs: string[] = [];

describe("RMM_LOG_FORMAT", () => {
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("defaults to one JSON object per line", async () => {
    const { lines } = await serverStartLines({});
    const listening = lines
      .map((l) => JSON.parse(l) as { msg: string; url?: string })
      .find((e) => e.msg === "rmm-server listening");
    expect(listening?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it("pretty prints level, name, message and fields for people", async () => {
    const { lines } = await serverStartLines({ RMM_LOG_FORMAT: "pretty" });
    const listening = lines.find((l) => l.includes("rmm-server listening"));
    expect(listening).toMatch(/^\[[0-9-]+ [0-9:.]+ [+-]\d{4}\] INFO \(rmm-server\): rmm-server listening$/);
    expect(lines.join("\n")).toMatch(/^\s+url: "http:\/\/127\.0\.0\.1:\d+"$/m);
    expect(lines.some((l) => l.startsWith("{"))).toBe(false);
  });

  it("refuses a format it does not know, naming the ones it does", async () => {
    const { lines, exitCode } = await serverStartLines({ RMM_LOG_FORMAT: "xml" });
    expect(exitCode).toBe(1);
    expect(lines.join("\n")).toMatch(/RMM_LOG_FORMAT "xml" is not one of json, pretty/);
  });
});
