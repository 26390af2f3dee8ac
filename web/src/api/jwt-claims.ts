/** The claims the console shows (who, until when). Not verified here: the server verifies every call. */
export interface DisplayClaims {
  sub?: string;
  exp?: number;
}

export function decodeJwt(token: string): DisplayClaims | undefined {
  const payload = token.split(".")[1];
  if (!payload) return undefined;
  try {
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    const claims = JSON.parse(json) as Record<string, unknown>;
    return {
      ...(typeof claims["sub"] === "string" && { sub: claims["sub"] }),
      ...(typeof claims["exp"] === "number" && { exp: claims["exp"] }),
    };
  } catch {
    // Not a JWT we can read: show no name; the server will say what is wrong with it.
    return undefined;
  }
}
