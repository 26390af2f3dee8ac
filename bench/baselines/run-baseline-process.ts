/**
 * The stdout protocol every bare baseline process speaks, so one harness
 * (`startBaseline`) drives them all. Each line on stdout is one JSON object:
 *
 * - `{"port":N}` once, when the server listens;
 * - `{"rss":BYTES,"heapUsed":BYTES}` after each SIGUSR2, measured after
 *   `global.gc()` when the process was started with `--expose-gc`.
 *
 * SIGTERM stops the server and lets the process exit with status 0. Nothing
 * else is written to stdout; diagnostics go to stderr.
 */
import { parseArgs } from "node:util";

/** Written once, when the baseline listens. */
export interface PortLine {
  port: number;
}

/** Written after each SIGUSR2. */
export interface MemoryLine {
  rss: number;
  heapUsed: number;
}

/** A baseline server as its process entry point starts it. */
export interface StartedBaseline {
  /** The port it listens on, on 127.0.0.1. */
  port: number;
  /** Stops listening and drops every open connection. */
  stop(): Promise<void>;
}

const MAX_PORT = 65_535;

/**
 * Parses `--port N` (0 picks a free port), starts the server with it and
 * speaks the stdout protocol above until SIGTERM.
 */
export function runBaselineProcess(name: string, start: (port: number) => Promise<StartedBaseline>): void {
  const { values } = parseArgs({ options: { port: { type: "string", default: "0" } } });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > MAX_PORT)
    fail(name, new Error(`--port must be an integer 0..${MAX_PORT}, got "${values.port}"`));

  // Answered even without --expose-gc: SIGUSR2 would otherwise kill the process.
  const gc = (globalThis as { gc?: () => void }).gc;
  const reportMemory = () => {
    gc?.();
    const { rss, heapUsed } = process.memoryUsage();
    writeLine({ rss, heapUsed } satisfies MemoryLine);
  };
  process.on("SIGUSR2", reportMemory);

  start(port).then(
    (server) => {
      process.once("SIGTERM", () => {
        process.off("SIGUSR2", reportMemory);
        // No process.exit: if a handle outlives stop(), the harness's stop
        // timeout shows it rather than this process hiding it.
        server.stop().catch((err: unknown) => fail(name, err));
      });
      writeLine({ port: server.port } satisfies PortLine);
    },
    (err: unknown) => fail(name, err),
  );
}

function writeLine(line: PortLine | MemoryLine): void {
  process.stdout.write(JSON.stringify(line) + "\n");
}

function fail(name: string, err: unknown): never {
  process.stderr.write(`${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
}
