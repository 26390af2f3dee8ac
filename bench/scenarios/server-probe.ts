import { readFileSync } from "node:fs";
import type { ManagedProcess } from "../../testkit/managed-process.js";

/** Linux reports process CPU time in clock ticks of 1/100 s. */
const TICKS_PER_SECOND = 100;

/** Memory of a process started with --expose-gc, after it collected garbage (SIGUSR2 protocol of rmm-server). */
export async function memoryAfterGc(proc: ManagedProcess): Promise<{ rss: number; heapUsed: number }> {
  const mark = proc.logs.length;
  proc.signal("SIGUSR2");
  const e = await proc.waitForLog((l) => l.msg === "memory after gc", "memory report", 30_000, mark);
  return { rss: Number(e.rss), heapUsed: Number(e.heapUsed) };
}

/** Samples a process's CPU use; `peak()` is the highest share of one core seen between samples. */
export class CpuSampler {
  private last: { at: number; ticks: number } | undefined;
  private peakShare = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pid: number,
    intervalMs = 250,
  ) {
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  peak(): number {
    return this.peakShare;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    let ticks: number;
    try {
      // Fields after the command name: utime and stime are the 12th and 13th.
      const stat = readFileSync(`/proc/${this.pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks = Number(fields[11]) + Number(fields[12]);
    } catch {
      return; // The process is gone (restarting): nothing to sample this tick.
    }
    const at = performance.now();
    if (this.last)
      this.peakShare = Math.max(
        this.peakShare,
        (ticks - this.last.ticks) / TICKS_PER_SECOND / ((at - this.last.at) / 1000),
      );
    this.last = { at, ticks };
  }
}
