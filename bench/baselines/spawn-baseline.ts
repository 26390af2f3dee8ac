/**
 * Starts a bare baseline in its own process (so its memory is its own) and
 * drives it through the stdout protocol of `runBaselineProcess`.
 *
 * @example
 * ```ts
 * const server = await startBaseline("grpcjs");
 * try {
 *   const before = await server.memoryAfterGc();
 *   // ... load it ...
 * } finally {
 *   await server.stop();
 * }
 * ```
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { BaselineKind } from "./baseline-kind.js";
import type { MemoryLine, PortLine } from "./run-baseline-process.js";

/** A baseline that has not said where it listens by then has failed to start. */
const START_TIMEOUT_MS = 10_000;
/** GC under 10k streams takes well under a second; past this the process is stuck. */
const MEMORY_REPORT_TIMEOUT_MS = 30_000;
/** After SIGTERM, how long a baseline may take to exit before it is killed. */
const STOP_TIMEOUT_MS = 5_000;
/** Stderr lines kept to explain a failure. */
const STDERR_TAIL_LINES = 20;

/** Built entry points, beside this file in dist/bench/baselines/. */
const MAIN: Record<BaselineKind, string> = {
  connect: "bare-connect-server.js",
  grpcjs: "bare-grpcjs-server.js",
  tcp: "raw-tcp-pipe.js",
};

export interface BaselineProcess {
  /** Where it listens, on 127.0.0.1. */
  port: number;
  pid: number;
  /** The process's memory after a full GC (it runs with --expose-gc). */
  memoryAfterGc(): Promise<MemoryLine>;
  /** SIGTERM, then SIGKILL if it has not exited within 5 s. Safe to call twice. */
  stop(): Promise<void>;
}

/** Spawns `node --expose-gc <baseline>.js --port 0` and resolves once it listens. */
export async function startBaseline(kind: BaselineKind): Promise<BaselineProcess> {
  const main = fileURLToPath(new URL(MAIN[kind], import.meta.url));
  if (!existsSync(main)) throw new Error(`${main} is missing: run \`npx tsc -p tsconfig.json\` first`);
  const child = spawn(process.execPath, ["--expose-gc", main, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  // If the harness dies, its baselines must not outlive it.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);

  const stderrTail: string[] = [];
  createInterface({ input: child.stderr! }).on("line", (line) => {
    stderrTail.push(line);
    if (stderrTail.length > STDERR_TAIL_LINES) stderrTail.shift();
  });
  // A failed spawn has no exit to report; keep its error for the start timeout to name.
  child.on("error", (err) => stderrTail.push(`spawn failed: ${err.message}`));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const describe = (what: string) =>
    `${kind} baseline (pid ${child.pid}) ${what}; stderr: ${stderrTail.join(" | ") || "(empty)"}`;

  // Lines are answers in order: the port first, then one memory line per SIGUSR2.
  const waiting: Array<{ resolve: (line: unknown) => void; reject: (err: Error) => void }> = [];
  createInterface({ input: child.stdout! }).on("line", (line) => {
    const waiter = waiting.shift();
    if (!waiter) return;
    try {
      waiter.resolve(JSON.parse(line));
    } catch (err) {
      waiter.reject(new Error(describe(`wrote a line that is not JSON: ${line} (${String(err)})`)));
    }
  });
  void exited.then(() => {
    for (const waiter of waiting.splice(0))
      waiter.reject(new Error(describe(`exited with ${child.exitCode ?? child.signalCode}`)));
  });
  const nextLine = (timeoutMs: number, what: string) =>
    new Promise<unknown>((resolve, reject) => {
      if (child.exitCode !== null || child.signalCode !== null) return reject(new Error(describe("has exited")));
      const waiter = {
        resolve: (line: unknown) => {
          clearTimeout(timer);
          resolve(line);
        },
        reject: (err: Error) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      // Forget the question, so a late answer is dropped rather than kept for a waiter that gave up.
      const timer = setTimeout(() => {
        waiting.splice(waiting.indexOf(waiter), 1);
        reject(new Error(describe(`did not report ${what} within ${timeoutMs} ms`)));
      }, timeoutMs);
      waiting.push(waiter);
    });

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    process.off("exit", killOnExit);
  };

  try {
    const first = (await nextLine(START_TIMEOUT_MS, "its port")) as Partial<PortLine>;
    if (typeof first.port !== "number")
      throw new Error(describe(`reported ${JSON.stringify(first)} instead of its port`));
    return {
      port: first.port,
      pid: child.pid!,
      memoryAfterGc: async () => {
        const reply = nextLine(MEMORY_REPORT_TIMEOUT_MS, "its memory");
        child.kill("SIGUSR2");
        const line = (await reply) as Partial<MemoryLine>;
        if (typeof line.rss !== "number" || typeof line.heapUsed !== "number")
          throw new Error(describe(`reported ${JSON.stringify(line)} instead of its memory`));
        return { rss: line.rss, heapUsed: line.heapUsed };
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
