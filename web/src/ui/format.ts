import { timestampMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import { uptimeText } from "../../../common/uptime-text.js";

/** Uptime as its two largest units: "3d 4h", "5h 12m", "42m", "9s". */
export const uptime = (seconds: number): string => uptimeText(seconds);

/** Share of `total` in use, 0..1; undefined when the total is unknown (0). */
export function usedShare(total: bigint, free: bigint): number | undefined {
  return total === 0n ? undefined : Number(total - free) / Number(total);
}

/** A timestamp as the browser's local date and time, or "—". */
export function localTime(ts: Timestamp | undefined): string {
  return ts ? new Date(timestampMs(ts)).toLocaleString() : "—";
}

/** Milliseconds as "850 ms", "12.4 s", "3 min 5 s". */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}
