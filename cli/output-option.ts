import { Option, type Command } from "commander";
import { stringify } from "yaml";
import { jsonReady, table } from "./output-format.js";

/**
 * `-o json|yaml|wide|table`, as kubectl writes it, for every listing: table
 * (the default) for people, wide for the same with more columns, json and
 * yaml for scripts. `--json` stays as an alias of `-o json`.
 */
export const OUTPUT_FORMATS = ["table", "wide", "json", "yaml"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface OutputFlags {
  output?: OutputFormat;
  json?: boolean;
}

/** Adds `-o/--output` and `--json` to a command; read them back with `outputFormat`. */
export function withOutputOption(cmd: Command): Command {
  return cmd
    .addOption(new Option("-o, --output <format>", "output format: table, wide, json or yaml").choices(OUTPUT_FORMATS))
    .option("--json", "the same as -o json");
}

export function outputFormat(flags: OutputFlags): OutputFormat {
  return flags.json ? "json" : (flags.output ?? "table");
}

/** One column of a table: its header and how a row shows in it. */
export interface Column<T> {
  header: string;
  cell: (item: T) => string;
  /** Shown only with -o wide. */
  wide?: boolean;
}

export interface Listing<T> {
  columns: Column<T>[];
  /** What json and yaml print for one item: plain values, ISO times, numbers. */
  record: (item: T) => unknown;
}

/** Prints a list of items in the chosen format: a table, or an array of records. */
export function printListing<T>(format: OutputFormat, items: T[], listing: Listing<T>): void {
  process.stdout.write(formatListing(format, items, listing));
}

export function formatListing<T>(format: OutputFormat, items: T[], listing: Listing<T>): string {
  if (format === "json" || format === "yaml") return formatValue(format, items.map(listing.record));
  const columns = listing.columns.filter((c) => format === "wide" || !c.wide);
  return table(
    columns.map((c) => c.header),
    items.map((item) => columns.map((c) => c.cell(item))),
  );
}

/** One record (rmm agent show, cp's result) as json or yaml. */
export function formatValue(format: "json" | "yaml", value: unknown): string {
  const ready = jsonReady(value);
  return format === "json" ? JSON.stringify(ready, null, 2) + "\n" : stringify(ready);
}

/** One record in the chosen format: `text` for table and wide, the record itself for json and yaml. */
export function printRecord(format: OutputFormat, record: unknown, text: () => string): void {
  process.stdout.write(format === "json" || format === "yaml" ? formatValue(format, record) : text());
}
