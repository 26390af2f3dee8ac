import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";

/** Local wall-clock time, with the date when it is not today. */
export function formatTime(ts: Timestamp | undefined, now = new Date()): string {
  if (!ts) return "-";
  const d = timestampDate(ts);
  const time = d.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  return d.toDateString() === now.toDateString() ? time : `${d.toISOString().slice(0, 10)} ${time}`;
}

/** A plain text table: columns padded to their widest cell, no borders (greppable, like kubectl's). */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n") + "\n";
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** A value ready for JSON or YAML: bigints as numbers when safe (strings otherwise). */
export function jsonReady(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, (_key, v: unknown) =>
      typeof v === "bigint" ? (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()) : v,
    ) ?? "null",
  );
}

/** JSON for --json output: bigints as numbers when safe, Timestamps as ISO strings. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(jsonReady(value), null, 2) + "\n");
}
