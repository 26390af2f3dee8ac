/**
 * How often an agent heartbeats, in milliseconds. Defaults to 25 s: under the
 * 60 s idle timeout common to load balancers and proxies, which drop a silent
 * HTTP/2 stream whatever PINGs do. The server announces its interval in
 * HelloAck; an agent falls back to this one when the server sends none.
 */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 25_000;
