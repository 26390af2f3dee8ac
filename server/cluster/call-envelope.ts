import { Code, ConnectError } from "@connectrpc/connect";

/** Node ids are NATS subject tokens: letters, digits, `-` and `_`, at most 64 (the column's width). */
export const NODE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Where a node takes calls routed to it. */
export function callSubject(nodeId: string): string {
  return `rmm.cluster.${nodeId}.call`;
}

/** The request that starts a routed call (JSON in the NATS request's body). */
export interface CallOpen {
  /** Fully qualified service name and method, e.g. rmm.v1.TunnelService / OpenTunnel. */
  service: string;
  method: string;
  /** The caller's headers the call needs on the serving node: authorization and the via marker. */
  headers: Record<string, string>;
  /** What's left of the caller's deadline; 0: none. */
  timeoutMs: number;
  /** The forwarding node's inbox for this call, and the credit it grants (bytes). */
  inbox: string;
  windowBytes: number;
  /** The forwarding node and the technician's address there, for logs and audit. */
  from: string;
  peer: string;
}

/** The serving node's answer: its inbox and credit, or why it refused. */
export type CallAccept = { inbox: string; windowBytes: number } | { code: number; message: string };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Parses a peer's JSON; a malformed one is the peer's bug, reported as Internal. */
export function decodeJson<T>(bytes: Uint8Array, what: string): T {
  try {
    return JSON.parse(decoder.decode(bytes)) as T;
  } catch (err) {
    throw new ConnectError(`malformed ${what} from another node: ${String(err)}`, Code.Internal);
  }
}
