import { posix, win32 } from "node:path";
import { PathGlobs, WINDOWS_PATH } from "../../common/path-glob.js";

/** What a role may do with files: `read` is Stat, ListDirectory and Download; `read-write` adds PrepareUpload, Upload and MakeDirectory. */
export const FILE_ACCESS_LEVELS = ["none", "read", "read-write"] as const;
export type FileAccessLevel = (typeof FILE_ACCESS_LEVELS)[number];

/** What one file request needs. */
export type FileAccessNeed = "read" | "write";

/** A role's `files` and `paths` settings. */
export interface FileAccessPolicy {
  files: FileAccessLevel;
  /** Path globs (see pathGlobToRegExp in common/path-glob.ts); absent: any path. */
  paths?: string[];
}

/**
 * The path a policy judges: `.` and `..` resolved lexically, a trailing "/" dropped, Windows
 * separators turned into "/", so `/srv/share/../../etc/shadow` is judged as
 * `/etc/shadow`. Symlinks are the agent's to resolve (its root check uses
 * realpath); the agent is sent this same normalised path.
 */
export function normalizeAgentPath(path: string): string {
  const normalized = WINDOWS_PATH.test(path) ? win32.normalize(path).replace(/\\/g, "/") : posix.normalize(path);
  // "/srv/share/" names the same directory as "/srv/share" and is judged as it; the root ("/", "C:/") keeps its "/".
  return /^(?:[A-Za-z]:)?\/$/.test(normalized) ? normalized : normalized.replace(/\/+$/, "");
}

/** One role's compiled file settings. */
export class FileAccess {
  private readonly paths: PathGlobs | undefined;

  constructor(private readonly policy: FileAccessPolicy) {
    this.paths = policy.paths && new PathGlobs(policy.paths);
  }

  /** The role's path globs, sent to the agent with every file channel so it can judge the real path; empty: any path. */
  get pathGlobs(): readonly string[] {
    return this.policy.paths ?? [];
  }

  /** Undefined when allowed; otherwise why not, naming the setting. */
  refusal(role: string, need: FileAccessNeed, normalizedPath: string): { rule: string; reason: string } | undefined {
    const { files } = this.policy;
    if (files === "none" || (need === "write" && files === "read")) {
      const rule = `roles.${role}.files`;
      const what =
        need === "write"
          ? "write files (PrepareUpload, Upload, MakeDirectory)"
          : "read files (Stat, ListDirectory, Download)";
      return {
        rule,
        reason: `role ${role} may not ${what}: the policy sets ${rule} to "${files}"${files === "none" ? " (a role without files gets none)" : ""}`,
      };
    }
    if (this.paths && !this.paths.matches(normalizedPath)) {
      const rule = `roles.${role}.paths`;
      return {
        rule,
        reason: `role ${role} may not touch ${normalizedPath}: it matches none of ${rule} (${this.policy.paths!.join(", ")})`,
      };
    }
    return undefined;
  }
}
