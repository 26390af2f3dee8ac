import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { createInterface } from "node:readline";

export interface LogEntry {
  msg?: string;
  [key: string]: unknown;
}

/**
 * How long a process of ours may take to start: a server migrating a fresh MySQL database, or an agent
 * enrolling and connecting, while several test files start theirs at once on two cores. It only bounds a
 * failure; a healthy start is waited for by its log line, not for this long.
 */
export const START_TIMEOUT_MS = 30_000;

/** Built entry points (npm test builds before running vitest); the agent's is its `rmm-agent` bin, the bundle. */
export const SERVER_MAIN = resolve("dist/server/main.js");
export const AGENT_MAIN = resolve("dist/rmm-agent/rmm-agent.cjs");

/** A node process of ours whose structured stderr log a test can wait on. */
export class ManagedProcess {
  readonly logs: LogEntry[] = [];
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;
  private waiters: Array<() => void> = [];

  /** `wrapper`: a command that execs node in place (e.g. `prlimit --fsize=N`, `setpriv --reuid=U`), so signals still reach node. */
  constructor(main: string, args: string[], opts: { nodeArgs?: string[]; logLevel?: string; wrapper?: string[] } = {}) {
    if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first (npm test does)`);
    const command = [...(opts.wrapper ?? []), process.execPath, ...(opts.nodeArgs ?? []), main, ...args];
    this.child = spawn(command[0]!, command.slice(1), {
      env: { ...process.env, RMM_LOG_LEVEL: opts.logLevel ?? "debug" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    createInterface({ input: this.child.stderr! }).on("line", (line) => {
      try {
        this.logs.push(JSON.parse(line) as LogEntry);
      } catch {
        this.logs.push({ msg: line });
      }
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.exited = new Promise((r) => this.child.once("exit", (code) => r(code)));
    void this.exited.then(() => {
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Sends a signal without waiting for anything. */
  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Waits for a log entry (from index `after` on) that matches; fails after `timeoutMs` or if the process exits. */
  async waitForLog(match: (e: LogEntry) => boolean, what: string, timeoutMs = 10_000, after = 0): Promise<LogEntry> {
    const deadline = Date.now() + timeoutMs;
    for (let seen = after; ;) {
      for (; seen < this.logs.length; seen++) if (match(this.logs[seen]!)) return this.logs[seen]!;
      if (!this.running)
        throw new Error(`process exited before ${what}; last logs: ${JSON.stringify(this.logs.slice(-5))}`);
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`timed out waiting for ${what}; last logs: ${JSON.stringify(this.logs.slice(-5))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
    if (this.running) this.child.kill(signal);
    return this.exited;
  }
}

/** Starts `rmm-server serve` and resolves once it listens. */
export async function startServerProcess(opts: {
  dataDir: string;
  db: string;
  port?: number;
  extra?: string[];
  /** Node flags, e.g. --expose-gc for memory measurements. */
  nodeArgs?: string[];
  logLevel?: string;
  /** Defaults to test-speed timers (300 ms heartbeats); benchmarks pass production ones. */
  heartbeatInterval?: string;
  offlineAfter?: string;
}): Promise<{ proc: ManagedProcess; url: string; port: number }> {
  const proc = new ManagedProcess(
    SERVER_MAIN,
    [
      "serve",
      "--listen",
      `127.0.0.1:${opts.port ?? 0}`,
      "--data-dir",
      opts.dataDir,
      "--db",
      opts.db,
      "--heartbeat-interval",
      opts.heartbeatInterval ?? "300ms",
      "--offline-after",
      opts.offlineAfter ?? "1500ms",
      "--open-timeout",
      "2s",
      ...(opts.extra ?? []),
    ],
    { ...(opts.nodeArgs ? { nodeArgs: opts.nodeArgs } : {}), ...(opts.logLevel ? { logLevel: opts.logLevel } : {}) },
  );
  // A server that never listens is not left running behind the caller's failure.
  const entry = await proc
    .waitForLog((e) => e.msg === "rmm-server listening", "the server to listen", START_TIMEOUT_MS)
    .catch(async (err: unknown) => {
      await proc.stop("SIGKILL");
      throw err;
    });
  const url = String(entry.url);
  return { proc, url, port: Number(new URL(url).port) };
}
