/**
 * The technician token lives in this tab's sessionStorage only: it survives a
 * reload, not a closed tab, and never reaches a cookie or the address bar.
 */
const TOKEN_KEY = "rmm.token";
const REASON_KEY = "rmm.signedOutReason";

export const tokenStore = {
  get(): string | undefined {
    return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
  },
  set(token: string): void {
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.removeItem(REASON_KEY);
  },
  /** Forgets the token, keeping why for the sign-in page to show. */
  clear(reason: string): void {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.setItem(REASON_KEY, reason);
  },
  takeReason(): string | undefined {
    const reason = sessionStorage.getItem(REASON_KEY) ?? undefined;
    sessionStorage.removeItem(REASON_KEY);
    return reason;
  },
};

/**
 * `?token=` links (from `rmm-server token --web`): the token is taken and the
 * query removed from the address bar and history before anything else runs.
 */
export function takeTokenFromAddress(): void {
  const url = new URL(location.href);
  const token = url.searchParams.get("token");
  if (token === null) return;
  url.searchParams.delete("token");
  history.replaceState(null, "", url.pathname + url.search + url.hash);
  if (token.trim() !== "") tokenStore.set(token.trim());
}
