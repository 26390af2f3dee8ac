/**
 * `<base>/?token=...`: the console reads the token and removes it from the
 * address bar and history at once. Throws a flag error (a plain Error, as the
 * other flag parsers do) when `base` is not an http(s) URL.
 */
export function webSignInLink(base: string, token: string): string {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new Error(`--web: ${JSON.stringify(base.slice(0, 200))} is not a URL (e.g. https://rmm.example.com:7443)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new Error(`--web: the console is served over http or https, not ${url.protocol}`);
  url.pathname = "/";
  url.search = "";
  url.hash = "";
  url.searchParams.set("token", token);
  return url.toString();
}
