import { headers, type MsgHdrs } from "nats";

/**
 * The wire of a cross-node stream: every NATS message carries a kind and, on
 * the ordered part of the stream, a sequence number, in NATS headers; payload
 * bytes are opaque (serialized RPC messages, whatever their schema).
 */
export const KIND = {
  /** A fragment of one RPC message; `last` marks its final fragment. */
  fragment: "m",
  /** Credit: the receiver took `bytes` more from its queue. */
  credit: "c",
  /** The sender has no more messages (a client stream's half-close). */
  half: "h",
  /** The stream ended with a status (`code` 0: ok). Either side may send it. */
  end: "e",
  /** A liveness request, answered with `pong`; not sequenced. */
  ping: "p",
  pong: "q",
} as const;

export type WireKind = (typeof KIND)[keyof typeof KIND];

/**
 * Payload bytes per NATS message. 63 KiB keeps a whole message, headers
 * included, within 64 KiB: small enough that one stream never holds up the
 * connection it shares with every other stream of the node for long.
 */
export const MAX_FRAGMENT_BYTES = 63 * 1024;

export function wireHeaders(fields: Record<string, string | number>): MsgHdrs {
  const h = headers();
  for (const [k, v] of Object.entries(fields)) h.set(k, String(v));
  return h;
}

export function headerOf(h: MsgHdrs | undefined, name: string): string {
  return h?.get(name) ?? "";
}

export function numberHeader(h: MsgHdrs | undefined, name: string): number {
  const v = Number(headerOf(h, name));
  return Number.isSafeInteger(v) ? v : NaN;
}
