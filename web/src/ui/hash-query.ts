/**
 * A view's filters live in the address after `?` in the hash (`#/jobs?state=running`),
 * so a filtered list can be reloaded, bookmarked and shared.
 */
export function readHashQuery(): URLSearchParams {
  const at = location.hash.indexOf("?");
  return new URLSearchParams(at < 0 ? "" : location.hash.slice(at + 1));
}

/** The hash's path part: `#/jobs/abc?x=1` -> ["jobs", "abc"]. */
export function hashPath(): string[] {
  const path = location.hash.replace(/^#\/?/, "").split("?")[0] ?? "";
  return path === "" ? [] : path.split("/").map((part) => decodeURIComponent(part));
}

/**
 * Rewrites the hash's query in place. replaceState fires no hashchange, so
 * the view keeps its state (the caret in a filter being typed).
 */
export function writeHashQuery(values: Record<string, string | boolean>): void {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(values))
    if (value !== "" && value !== false) query.set(key, value === true ? "1" : value);
  const path = location.hash.split("?")[0] || "#/";
  const text = query.toString();
  history.replaceState(history.state, "", `${location.pathname}${location.search}${path}${text ? `?${text}` : ""}`);
}
