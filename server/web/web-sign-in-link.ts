import { Code, ConnectError } from "@connectrpc/connect";

/** `<base>/?token=...`: the console reads the token and removes it from the address bar and history at once. */
export function webSignInLink(base: string, token: string): string {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new ConnectError(
      `--web: ${JSON.stringify(base.slice(0, 200))} is not a URL (e.g. https://rmm.example.com:7443)`,
      Code.InvalidArgument,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new ConnectError(
      `--web: the console is served over http or https, not ${url.protocol}`,
      Code.InvalidArgument,
    );
  url.pathname = "/";
  url.search = "";
  url.hash = "";
  url.searchParams.set("token", token);
  return url.toString();
}
