import { readFileSync } from "node:fs";

/**
 * A process's resident set as the kernel counts it (/proc/PID/status VmRSS),
 * read from outside so the measured process runs exactly as it would
 * unmeasured: no --expose-gc, no extra code in it. Linux only, as the bench is.
 */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!kib) throw new Error(`/proc/${pid}/status has no VmRSS line (the process has exited?)`);
  return Number(kib[1]) * 1024;
}

/** How often a watched process's RSS is read: often enough to see a peak held for tens of milliseconds. */
export const RSS_SAMPLE_INTERVAL_MS = 20;

/** Reads `pid`'s RSS every 20 ms until `stop()`; returns the highest reading. A process that exits ends the watch. */
export function watchPeakRss(pid: number): { stop(): number } {
  let peak = 0;
  const read = () => {
    try {
      peak = Math.max(peak, rssBytes(pid));
    } catch {
      clearInterval(timer);
    }
  };
  const timer = setInterval(read, RSS_SAMPLE_INTERVAL_MS);
  read();
  return {
    stop() {
      clearInterval(timer);
      read();
      return peak;
    },
  };
}

/** Readings spaced this far apart make a settled figure: a GC or timer in between moves one, not the median. */
const SETTLED_SAMPLES = 5;
const SETTLED_SPACING_MS = 200;

/** The median of five RSS readings 200 ms apart: an idle process's figure, not one moment's. */
export async function settledRss(pid: number): Promise<number> {
  const readings: number[] = [];
  for (let i = 0; i < SETTLED_SAMPLES; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, SETTLED_SPACING_MS));
    readings.push(rssBytes(pid));
  }
  return readings.sort((a, b) => a - b)[Math.floor(readings.length / 2)]!;
}
