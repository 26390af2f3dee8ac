import { spawn } from "node:child_process";
import { watchPeakRss } from "./process-rss.js";

export interface TimedRun {
  /** Spawn to exit, as a user at a prompt waits for it. */
  wallMs: number;
  /** The highest RSS read while it ran (every 20 ms), in bytes. */
  peakRssBytes: number;
  code: number | null;
  stderr: string;
}

/**
 * Runs `argv` to its end, timing it from spawn to exit and watching its RSS.
 * Stdout is drained and dropped; stderr is kept to explain a failure.
 */
export function timedRun(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<TimedRun> {
  return new Promise((done, fail) => {
    const t0 = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ["ignore", "pipe", "pipe"] });
    const watch = watchPeakRss(child.pid!);
    const err: Buffer[] = [];
    child.stdout.resume();
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", fail);
    child.on("exit", (code) => {
      const wallMs = performance.now() - t0;
      done({ wallMs, peakRssBytes: watch.stop(), code, stderr: Buffer.concat(err).toString() });
    });
  });
}

/** Like `timedRun`, failing unless the program exits with status 0. */
export async function timedRunOk(argv: readonly string[], env?: NodeJS.ProcessEnv): Promise<TimedRun> {
  const run = await timedRun(argv, env);
  if (run.code !== 0) throw new Error(`${argv.join(" ")} exited with ${run.code}: ${run.stderr.trim().slice(0, 500)}`);
  return run;
}
