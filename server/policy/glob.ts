// The flat glob is shared with the agent (its --forward-allow list); path globs are the server's alone.
export { globToRegExp } from "../../common/glob.js";

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
