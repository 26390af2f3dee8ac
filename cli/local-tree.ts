import { lstat, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { TreeEntry } from "./remote-tree.js";

/**
 * Every regular file and directory under a local `root`, parents before
 * their children, as TreeEntry (relative paths "/"-separated). A symlink to a
 * file is copied as the file it points to, as scp does; a symlink to a
 * directory and special files (sockets, devices) are returned in `skipped`,
 * so a link to a parent cannot make the walk endless.
 */
export async function walkLocalTree(root: string): Promise<{ entries: TreeEntry[]; skipped: string[] }> {
  const entries: TreeEntry[] = [];
  const skipped: string[] = [];
  const visit = async (relative: string): Promise<void> => {
    const names = (await readdir(relative ? join(root, relative) : root)).sort();
    for (const name of names) {
      const rel = relative ? `${relative}/${name}` : name;
      const path = join(root, rel);
      const link = await lstat(path);
      const s = link.isSymbolicLink() ? await stat(path).catch(() => undefined) : link;
      if (s?.isDirectory() && !link.isSymbolicLink()) {
        entries.push(localEntry(rel, "directory", s));
        await visit(rel);
      } else if (s?.isFile()) entries.push(localEntry(rel, "file", s));
      else skipped.push(path);
    }
  };
  await visit("");
  return { entries, skipped };
}

export function localEntry(
  relative: string,
  kind: TreeEntry["kind"],
  s: { size: number; mtimeMs: number; mode: number },
): TreeEntry {
  return { relative, kind, size: kind === "file" ? s.size : 0, mtimeMs: Math.trunc(s.mtimeMs), mode: s.mode & 0o7777 };
}
