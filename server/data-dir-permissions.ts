import { chmodSync, lstatSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../common/logger.js";

/** The data dir and every directory under it: only the server's user may enter. */
export const PRIVATE_DIR_MODE = 0o700;
/** Every file in it: the signing secret, the SQLite store (the whole audit trail, every argv, agent credential hashes) and its -wal and -shm files, recordings. */
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Creates the data dir 0700 and tightens what is already in it (data dirs
 * made before this check held a 0644 rmm.sqlite in a 0755 dir, readable by
 * every local user). Also `files` outside it (a SQLite store kept elsewhere).
 * Each path tightened is logged; symlinks are left alone (their targets are
 * not ours to change).
 */
export function secureDataDir(dataDir: string, log: Logger, files: readonly string[] = []): string[] {
  mkdirSync(dataDir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const tightened: string[] = [];
  const tighten = (path: string): void => {
    let stat;
    try {
      stat = lstatSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    if (stat.isSymbolicLink()) return;
    const wanted = stat.isDirectory() ? PRIVATE_DIR_MODE : PRIVATE_FILE_MODE;
    if ((stat.mode & 0o777 & ~wanted) !== 0) {
      chmodSync(path, stat.mode & 0o777 & wanted);
      tightened.push(path);
    }
    if (stat.isDirectory()) for (const name of readdirSync(path)) tighten(join(path, name));
  };
  tighten(dataDir);
  for (const file of files) tighten(file);
  if (tightened.length > 0)
    log.warn(
      { tightened: tightened.slice(0, 20), count: tightened.length },
      "tightened permissions: the data dir is 0700 and every file in it 0600 (they hold the audit trail, credential hashes and the signing secret)",
    );
  return tightened;
}
