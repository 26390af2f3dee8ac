/** A Windows absolute path ("C:\\x", "C:/x"): matched with "/" separators and without regard to case. */
export const WINDOWS_PATH = /^[A-Za-z]:[\\/]/;

/**
 * A glob over "/"-separated paths: `*` and `?` stay within one segment, `**`
 * crosses segments, and a trailing `/**` also matches the directory itself
 * (`/srv/share/**` matches `/srv/share` and everything under it).
 * `caseInsensitive` is for Windows paths.
 */
export function pathGlobToRegExp(glob: string, caseInsensitive = false): RegExp {
  let body = "";
  const dirAndBelow = glob.endsWith("/**");
  const pattern = dirAndBelow ? glob.slice(0, -3) : glob;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*" && pattern[i + 1] === "*") {
      body += "[\\s\\S]*";
      i++;
    } else if (c === "*") body += "[^/]*";
    else if (c === "?") body += "[^/]";
    else body += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  if (dirAndBelow) body += "(?:/[\\s\\S]*)?";
  return new RegExp(`^${body}$`, caseInsensitive ? "i" : "");
}

/**
 * Path globs compiled once: the server judges a role's `paths` against the lexically normalised path it
 * was asked for, and the agent against the real path that one resolves to (symlinks followed).
 */
export class PathGlobs {
  private readonly res: RegExp[];

  constructor(readonly globs: readonly string[]) {
    this.res = globs.map((g) => pathGlobToRegExp(g, WINDOWS_PATH.test(g)));
  }

  /** `path` is absolute; Windows paths are compared with "/" separators. */
  matches(path: string): boolean {
    const slashed = WINDOWS_PATH.test(path) ? path.replace(/\\/g, "/") : path;
    return this.res.some((re) => re.test(slashed));
  }
}
