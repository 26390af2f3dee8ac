import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync, lstatSync } from "node:fs";
import { join } from "node:path";

/**
 * Every file under `root` by relative path, with the SHA-256 of its bytes
 * ("dir/" for a directory), sorted: two trees are byte-identical when their
 * digests are equal. `except` leaves out top-level names; symlinks are
 * followed only with `followLinks` (else left out, as rmm cp skips them).
 */
export function treeDigest(root: string, opts: { except?: string[]; followLinks?: boolean } = {}): string[] {
  const out: string[] = [];
  const visit = (relative: string) => {
    for (const name of readdirSync(relative ? join(root, relative) : root).sort()) {
      if (!relative && opts.except?.includes(name)) continue;
      const rel = relative ? `${relative}/${name}` : name;
      const path = join(root, rel);
      if (lstatSync(path).isSymbolicLink() && !opts.followLinks) continue;
      const s = statSync(path);
      if (s.isDirectory()) {
        out.push(`${rel}/`);
        visit(rel);
      } else out.push(`${rel} ${createHash("sha256").update(readFileSync(path)).digest("hex")}`);
    }
  };
  visit("");
  return out;
}
