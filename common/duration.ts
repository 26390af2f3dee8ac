const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Parses `500ms`, `30s`, `15m`, `1h`, `7d` into milliseconds; anything else is an error naming the forms. */
export function parseDuration(value: string, what: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(value.trim());
  if (!match?.[1] || !match[2])
    throw new Error(`${what} "${value}" is not a duration: use a number and a unit (ms, s, m, h, d), e.g. 1h`);
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  if (ms <= 0) throw new Error(`${what} must be longer than zero`);
  return Math.round(ms);
}

/** Writes milliseconds in the largest unit that divides them evenly (`25s`, `30m`), the form parseDuration reads. */
export function formatDuration(ms: number): string {
  const units = Object.entries(UNIT_MS).reverse();
  const [unit, size] = units.find(([, size]) => ms % size === 0) ?? ["ms", 1];
  return `${ms / size}${unit}`;
}
