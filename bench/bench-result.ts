import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/** One figure, as `bench/results/latest.json` lists it. */
export interface BenchEntry {
  name: string;
  value: number;
  unit: string;
  /** The bare figure measured in the same run, or null where there is none. */
  baseline: number | null;
  /** value / baseline, or null. */
  ratio: number | null;
  /** The target in words, e.g. "ratio <= 1.2" or "<= 3 ms"; null when the figure has none. */
  target: string | null;
  /** Whether the target is met; null when there is no target. */
  met: boolean | null;
}

export type Check = { kind: "ratio-max" | "ratio-min" | "value-max"; limit: number };

export function entry(name: string, value: number, unit: string, baseline: number | null, check?: Check): BenchEntry {
  const ratio = baseline ? round(value / baseline) : null;
  let target: string | null = null;
  let met: boolean | null = null;
  if (check?.kind === "ratio-max")
    ((target = `ratio <= ${check.limit}`), (met = ratio !== null && ratio <= check.limit));
  if (check?.kind === "ratio-min")
    ((target = `ratio >= ${check.limit}`), (met = ratio !== null && ratio >= check.limit));
  if (check?.kind === "value-max") ((target = `<= ${check.limit} ${unit}`), (met = value <= check.limit));
  return { name, value: round(value), unit, baseline: baseline === null ? null : round(baseline), ratio, target, met };
}

export function markdownTable(entries: BenchEntry[]): string {
  const rows = entries.map(
    (e) =>
      `| ${e.name} | ${e.value} ${e.unit} | ${e.baseline ?? "-"} | ${e.ratio ?? "-"} | ${e.target ?? "-"} ` +
      `| ${e.met === null ? "-" : e.met ? "yes" : "**no**"} |`,
  );
  return [
    "| figure | value | bare baseline | ratio | target | met |",
    "| --- | --- | --- | --- | --- | --- |",
    ...rows,
  ].join("\n");
}

export function writeResults(path: string, entries: BenchEntry[]): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(entries, null, 2) + "\n");
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
