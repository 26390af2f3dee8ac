/**
 * The WebSocket bridge that carries client-streaming and bidi calls for
 * browsers, which cannot stream a request body while reading the response.
 * One WebSocket is one call, at `STREAM_BRIDGE_PATH_PREFIX + "<service>/<method>"`:
 *
 * - the browser's first message is text: a `BridgeOpen` (the call's headers,
 *   `authorization` among them; browsers cannot set WebSocket headers);
 * - then each binary message is one request message in protobuf binary, and
 *   a text `BridgeHalfClose` says no more requests follow;
 * - the server sends each response message as one binary message and ends
 *   with a text `BridgeEnd` carrying the call's gRPC status, then closes.
 *
 * The call runs through the same handlers and interceptors as every other
 * call, so the bridge allows exactly what the API allows.
 */
export const STREAM_BRIDGE_PATH_PREFIX = "/ws/";

/** The first message: request headers by lower-case name. */
export interface BridgeOpen {
  type: "open";
  headers: Record<string, string>;
}

export interface BridgeHalfClose {
  type: "half-close";
}

/** The last message: `code` 0 is OK; otherwise a gRPC code with its message. */
export interface BridgeEnd {
  type: "end";
  code: number;
  message: string;
}

export type BridgeClientText = BridgeOpen | BridgeHalfClose;

/** Largest open message the server reads (headers are a token and little more). Defaults to 16 KiB. */
export const BRIDGE_OPEN_MAX_BYTES = 16 * 1024;
