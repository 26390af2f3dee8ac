import { Code, ConnectError } from "@connectrpc/connect";

/**
 * The page token of a newest-first listing keyed by a numeric row id (audit
 * events, recordings): "the rows before this id", opaque to callers.
 */
export function encodeIdPageToken(beforeId: number): string {
  return Buffer.from(`before:${beforeId}`).toString("base64url");
}

/** 0 (the first page) for an empty token; InvalidArgument for one this server did not issue. */
export function decodeIdPageToken(token: string): number {
  if (!token) return 0;
  const match = /^before:(\d{1,15})$/.exec(Buffer.from(token, "base64url").toString("utf8"));
  if (!match)
    throw new ConnectError(
      "page_token is not one this server issued: pass next_page_token from a previous response",
      Code.InvalidArgument,
    );
  return Number(match[1]);
}
