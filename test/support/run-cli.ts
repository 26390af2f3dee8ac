import { spawn } from "node:child_process";
import { resolve } from "node:path";

export const CLI_MAIN = resolve("dist/cli/main.js");
/** The `rmm` bin as installed: the bundle of the same program (scripts/bundle-cli.mjs, run by npm run build). */
export const CLI_BUNDLE = resolve("dist/rmm/rmm.js");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `rmm` CLI as a subprocess, optionally feeding stdin, and collects what it printed. */
export function runCli(
  args: string[],
  opts: { env?: Record<string, string>; input?: string | Buffer; timeoutMs?: number; main?: string } = {},
): Promise<CliResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [opts.main ?? CLI_MAIN, ...args], {
      env: { ...process.env, ...opts.env },
      stdio: ["pipe", "pipe", "pipe"],
      timeout: opts.timeoutMs ?? 30_000,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", fail);
    child.on("close", (code) =>
      done({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }),
    );
    child.stdin.on("error", () => undefined);
    child.stdin.end(opts.input ?? "");
  });
}
