import { basename, dirname, join } from "node:path";
import type { FileVersionKey } from "./file-version.js";

/** Marks the files a transfer keeps beside its target until the hash matched. */
export const PARTIAL_MARKER = ".rmm-partial";

/**
 * Where the agent keeps the bytes of an upload until its hash matched: hidden,
 * beside the target (same filesystem, so the final rename is atomic), and named
 * after the source version, so a changed source never resumes onto old bytes.
 */
export function uploadPartialPath(target: string, source: FileVersionKey): string {
  return join(dirname(target), `${uploadPartialPrefix(target)}${source.size}-${source.mtimeMs}`);
}

/** Name prefix shared by every upload partial of `target`, whatever the source version. */
export function uploadPartialPrefix(target: string): string {
  return `.${basename(target)}${PARTIAL_MARKER}-`;
}

/** Where a download is written until verified; its sidecar records which remote version the bytes came from. */
export function downloadPartialPaths(localPath: string): { data: string; sidecar: string } {
  const data = join(dirname(localPath), `.${basename(localPath)}${PARTIAL_MARKER}`);
  return { data, sidecar: `${data}.json` };
}
