import { spawn } from "node:child_process";

/**
 * The floor under an exec fan-out: the same command started `count` times at
 * once from one Node process, with no server, tunnel or agent in between.
 * Node starts child processes synchronously on its main thread, so this is
 * what one load-generator process can do at best.
 */
export async function bareSpawn(
  argv: readonly string[],
  count: number,
): Promise<{ allExitedMs: number; failed: number }> {
  const [program, ...args] = argv;
  const t0 = performance.now();
  const codes = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<number | null>((done) => {
          const child = spawn(program!, args, { stdio: ["ignore", "pipe", "ignore"] });
          child.stdout.resume();
          child.on("error", () => done(-1));
          child.on("close", done);
        }),
    ),
  );
  return { allExitedMs: performance.now() - t0, failed: codes.filter((c) => c !== 0).length };
}
