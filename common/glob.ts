/** `*` matches any run of characters (including none), `?` one character; everything else is literal. */
export function globToRegExp(glob: string, flags = ""): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, "[\\s\\S]*")
    .replace(/\?/g, "[\\s\\S]");
  return new RegExp(`^${body}$`, flags);
}
