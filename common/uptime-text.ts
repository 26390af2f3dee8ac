/**
 * Uptime as its two largest units ("3d 4h", "5h 12m", "42m", "9s"); the CLI's
 * table joins them with no space ("3d4h") to keep a column narrow.
 */
export function uptimeText(seconds: number, separator = " "): string {
  const units: Array<[string, number]> = [
    ["d", 86_400],
    ["h", 3_600],
    ["m", 60],
    ["s", 1],
  ];
  const parts: string[] = [];
  let rest = Math.floor(seconds);
  for (const [unit, size] of units) {
    if (rest >= size || (parts.length === 0 && size === 1)) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
    if (parts.length === 2) break;
  }
  return parts.join(separator);
}
