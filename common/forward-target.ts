import { Code, ConnectError } from "@connectrpc/connect";
import type { TcpParams } from "../gen/rmm/v1/forward_pb.js";

/** The host a TCP channel connects to when its params name none. */
export const DEFAULT_FORWARD_HOST = "localhost";
/** Longest host name a TCP channel takes: a DNS name's limit. */
export const MAX_FORWARD_HOST_CHARS = 253;
/**
 * Receive window of a TCP channel at every hop, in bytes. Defaults to 1 MiB:
 * a bulk stream (a database dump, an RDP screen) keeps more in flight than a
 * terminal needs, while a browser's six connections still hold only 6 MiB.
 */
export const FORWARD_WINDOW_BYTES = 1024 * 1024;

/** A checked TCP channel target. */
export interface ForwardTarget {
  host: string;
  port: number;
}

/** Checks a TCP channel's params, on the server and again on the agent; InvalidArgument says what is wrong. */
export function forwardTargetOf(params: TcpParams): ForwardTarget {
  const host = params.host || DEFAULT_FORWARD_HOST;
  if (host.length > MAX_FORWARD_HOST_CHARS)
    throw new ConnectError(`tcp host is longer than ${MAX_FORWARD_HOST_CHARS} characters`, Code.InvalidArgument);
  // eslint-disable-next-line no-control-regex
  if (/[\s\x00-\x1f\x7f]/.test(host) || host.startsWith("["))
    throw new ConnectError(
      `tcp host ${JSON.stringify(host.slice(0, 64))} is not a host name or address (no spaces, control characters or brackets)`,
      Code.InvalidArgument,
    );
  if (!Number.isInteger(params.port) || params.port < 1 || params.port > 65_535)
    throw new ConnectError(`tcp port must be 1-65535, got ${params.port}`, Code.InvalidArgument);
  return { host, port: params.port };
}

/** `host:port`, with an IPv6 address in brackets, for messages. */
export function formatTarget(target: ForwardTarget): string {
  return target.host.includes(":") ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
}
