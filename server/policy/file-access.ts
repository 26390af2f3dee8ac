import { posix, win32 } from "node:path";
import { pathGlobToRegExp } from "./glob.js";

/** What a role may do with files: `read` is Stat, ListDirectory and Download; `read-write` adds PrepareUpload and Upload. */
export const FILE_ACCESS_LEVELS = ["none", "read", "read-write"] as const;
export type FileAccessLevel = (typeof FILE_ACCESS_LEVELS)[number];

/** What one file request needs. */
export type FileAccessNeed = "read" | "write";

/** A role's `files` and `paths` settings. */
export interface FileAccessPolicy {
  files: FileAccessLevel;
  /** Path globs (see pathGlobToRegExp); absent: any path. */
  paths?: string[];
}

const WINDOWS_PATH = /^[A-Za-z]:[\\/]/;

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
  private readonly pathRes: RegExp[] | undefined;

  constructor(private readonly policy: FileAccessPolicy) {
    this.pathRes = policy.paths?.map((g) => pathGlobToRegExp(g, WINDOWS_PATH.test(g)));
  }

  /** Undefined when allowed; otherwise why not, naming the setting. */
  refusal(role: string, need: FileAccessNeed, normalizedPath: string): { rule: string; reason: string } | undefined {
    const { files } = this.policy;
    if (files === "none" || (need === "write" && files === "read")) {
      const rule = `roles.${role}.files`;
      const what =
        need === "write" ? "write files (PrepareUpload, Upload)" : "read files (Stat, ListDirectory, Download)";
      return {
        rule,
        reason: `role ${role} may not ${what}: the policy sets ${rule} to "${files}"${files === "none" ? " (a role without files gets none)" : ""}`,
      };
    }
    if (this.pathRes && !this.pathRes.some((re) => re.test(normalizedPath))) {
      const rule = `roles.${role}.paths`;
      return {
        rule,
        reason: `role ${role} may not touch ${normalizedPath}: it matches none of ${rule} (${this.policy.paths!.join(", ")})`,
      };
    }
    return undefined;
  }
}
