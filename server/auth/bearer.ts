import { Code, ConnectError } from "@connectrpc/connect";

/** The token from `authorization: Bearer <token>`, or Unauthenticated saying what is wrong. */
export function bearerToken(header: string | null, what: string): string {
  if (header === null || header === "") {
    throw new ConnectError(`missing ${what}: send "authorization: Bearer <token>"`, Code.Unauthenticated);
  }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match?.[1]) {
    throw new ConnectError(`malformed authorization header: expected "Bearer <token>"`, Code.Unauthenticated);
  }
  return match[1];
}
