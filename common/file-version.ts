import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import type { Timestamp } from "@bufbuild/protobuf/wkt";

/**
 * One version of a file: an interrupted transfer resumes only while its
 * source still has this size and modification time. Milliseconds, because
 * that is what both Node's stat and the protobuf Timestamp carry faithfully.
 */
export interface FileVersionKey {
  size: number;
  mtimeMs: number;
}

export function versionOf(stat: { size: number; mtimeMs: number }): FileVersionKey {
  return { size: stat.size, mtimeMs: Math.trunc(stat.mtimeMs) };
}

export function versionFromProto(
  v: { size: bigint; modifyTime?: Timestamp | undefined } | undefined,
): FileVersionKey | undefined {
  if (!v) return undefined;
  return { size: Number(v.size), mtimeMs: v.modifyTime ? Math.trunc(timestampMs(v.modifyTime)) : 0 };
}

export function versionToProto(v: FileVersionKey): { size: bigint; modifyTime: Timestamp } {
  return { size: BigInt(v.size), modifyTime: timestampFromMs(v.mtimeMs) };
}

export function sameVersion(a: FileVersionKey | undefined, b: FileVersionKey | undefined): boolean {
  return a !== undefined && b !== undefined && a.size === b.size && a.mtimeMs === b.mtimeMs;
}

/**
 * A FileVersionKey's time as utimes takes it (seconds), pointing at the middle
 * of its millisecond: seconds as a double cannot hold most millisecond values
 * exactly (1796168682.586 is stored as 1796168682.58599996...), and a time set
 * at the exact value would read back, truncated, a millisecond early.
 */
export function utimesSeconds(mtimeMs: number): number {
  return (mtimeMs + 0.5) / 1000;
}
