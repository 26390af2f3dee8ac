const UNIT_BYTES = {
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KIB: 1024,
  MIB: 1024 ** 2,
  GIB: 1024 ** 3,
  TIB: 1024 ** 4,
} as const;

/** Parses `4GiB`, `500MB`, `65536` (bytes) into a byte count; anything else is an error naming the forms. */
export function parseByteSize(value: string, what: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value.trim());
  const unit = (match?.[2] || "B").toUpperCase() as keyof typeof UNIT_BYTES;
  if (!match?.[1] || !(unit in UNIT_BYTES))
    throw new Error(
      `${what} "${value}" is not a size: use a number and a unit (B, KB, MB, GB, KiB, MiB, GiB), e.g. 4GiB`,
    );
  const bytes = Math.round(Number(match[1]) * UNIT_BYTES[unit]);
  if (!Number.isSafeInteger(bytes)) throw new Error(`${what} "${value}" is too large`);
  return bytes;
}

/** `1073741824` -> `1 GiB`, for messages a person reads. */
export function formatByteSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let n = bytes;
  let i = 0;
  for (; n >= 1024 && i < units.length - 1; i++) n /= 1024;
  return `${Number.isInteger(n) ? n : n.toFixed(1)} ${units[i]}`;
}
