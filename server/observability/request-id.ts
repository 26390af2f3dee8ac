import { randomUUID } from "node:crypto";
import { createContextKey } from "@connectrpc/connect";

/** The header a caller may send its own request id in, and the one every response carries. */
export const REQUEST_ID_HEADER = "x-request-id";

/** Longest caller-chosen request id kept; longer or unprintable ones are replaced, so the log stays bounded. */
export const MAX_REQUEST_ID_LENGTH = 128;

const PRINTABLE = /^[\x21-\x7e]+$/;

/** The call's request id, set by the observing interceptor before anything else sees the call. */
export const requestIdKey = createContextKey<string | undefined>(undefined, { description: "request id" });

/** The caller's id when it is short and printable (a proxy's or a script's), else a fresh UUID. */
export function requestIdFrom(header: string | null): string {
  return header !== null && header.length <= MAX_REQUEST_ID_LENGTH && PRINTABLE.test(header) ? header : randomUUID();
}
