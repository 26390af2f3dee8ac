import { createContextKey } from "@connectrpc/connect";

/** The caller's network address, set for every call (connect-node and the fast path alike), for the audit trail. */
export const peerKey = createContextKey<string>("unknown", { description: "peer address" });

/** `address` as the audit trail names it: the socket's remote address, or "unknown" once the socket is gone. */
export function peerAddress(socket: { remoteAddress?: string | undefined } | null | undefined): string {
  return socket?.remoteAddress ?? "unknown";
}
