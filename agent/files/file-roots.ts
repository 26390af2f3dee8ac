import { realpathSync } from "node:fs";
import { realpath } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, resolve, sep } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { errnoOf } from "../../common/errno-code.js";
import { PathGlobs } from "../../common/path-glob.js";
import { fileError } from "./file-error.js";

/**
 * Where file channels may reach on this agent. Every path is resolved the way
 * the kernel would (symlinks included) BEFORE the check, and the resolved path
 * is what gets opened, so neither `..` nor a symlink pointing outside can
 * escape a root. The agent's own state file (its credential) is always refused.
 */
export class FileRoots {
  private readonly roots: string[];
  private readonly forbidden: string[];
  private rules: PathGlobs | undefined;

  /** `roots`: allowed directories; empty means the whole filesystem. `forbidden`: files never served (the state file). */
  constructor(roots: readonly string[], forbidden: readonly string[] = []) {
    this.roots = roots.length === 0 ? [sep] : roots.map((r) => realpathSync(resolve(r)));
    this.forbidden = forbidden.map((f) => {
      try {
        return realpathSync(f);
      } catch {
        return resolve(f);
      }
    });
  }

  get allowed(): readonly string[] {
    return this.roots;
  }

  /**
   * These roots, further confined to the technician role's path globs (the file operation's
   * `allowed_paths`), judged on the real path. No globs: these roots unchanged.
   */
  narrowedTo(globs: readonly string[]): FileRoots {
    if (globs.length === 0) return this;
    // Shares the roots (resolved once at start) through the prototype; only the rules are its own.
    const narrowed: FileRoots = Object.create(this) as FileRoots;
    narrowed.rules = new PathGlobs(globs);
    return narrowed;
  }

  /**
   * The real path `path` refers to, if it lies inside a root. A path that does
   * not exist yet (an upload target) resolves through its nearest existing parent.
   */
  async resolve(path: string): Promise<string> {
    if (!path) throw new ConnectError("path is empty: give an absolute path on the agent", Code.InvalidArgument);
    if (!isAbsolute(path))
      throw new ConnectError(
        `path "${path}" is not absolute: give an absolute path on the agent`,
        Code.InvalidArgument,
      );
    if (path.includes("\0")) throw new ConnectError("path contains a NUL byte", Code.InvalidArgument);
    // A path through a regular file (ENOTDIR), a symlink loop (ELOOP) or an unreadable directory (EACCES) gets its own code, not Internal.
    const real = await realpathAllowingMissing(resolve(path)).catch((err: unknown) => {
      throw fileError(err, "cannot resolve", path);
    });
    if (this.forbidden.includes(real))
      throw new ConnectError(`${path} is the agent's own state file, which is never served`, Code.PermissionDenied);
    if (!this.roots.some((root) => real === root || real.startsWith(root.endsWith(sep) ? root : root + sep))) {
      throw new ConnectError(
        `${path} resolves to ${real}, outside this agent's file roots (${this.roots.join(", ")})`,
        Code.PermissionDenied,
      );
    }
    if (this.rules && !this.rules.matches(real)) {
      throw new ConnectError(
        `${path} resolves to ${real}, which matches none of the paths the technician's role may touch (${this.rules.globs.join(", ")})`,
        Code.PermissionDenied,
      );
    }
    return real;
  }
}

async function realpathAllowingMissing(path: string): Promise<string> {
  const missing: string[] = [];
  for (let current = path; ; current = dirname(current)) {
    try {
      return join(await realpath(current), ...missing.reverse());
    } catch (err) {
      if (errnoOf(err) !== "ENOENT" || current === dirname(current)) throw err;
      missing.push(basename(current));
    }
  }
}
