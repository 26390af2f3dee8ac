import type { DescMessage } from "@bufbuild/protobuf";
import type { ConnectRequest, ConnectResponse } from "../gen/rmm/v1/agent_service_pb.js";
import type { ChannelData, TunnelFrame } from "../gen/rmm/v1/frame_pb.js";
import type { OpenChannelRequest, OpenChannelResponse } from "../gen/rmm/v1/tunnel_service_pb.js";

/**
 * Encodes the messages that carry channel bytes (a TunnelFrame's data on the
 * agent's stream, ChannelData on a technician's OpenChannel) into exactly the
 * bytes `toBinary` writes, with one allocation and one copy of the payload.
 * `toBinary` copies a nested message once per nesting level when it joins it
 * into its parent (ConnectResponse > TunnelFrame > ChannelData > bytes is
 * three copies, then the gRPC envelope a fourth); in CPU profiles of the
 * tunnel throughput bench those copies, and the garbage collection of the
 * buffers they leave, were the largest JavaScript cost of relaying data.
 *
 * Returns undefined for any message that is not plain channel data (other
 * cases, unknown fields, values the short path does not write): the caller
 * then encodes it the general way, so the wire format never depends on which
 * path wrote it. The contract is unchanged; this is only a faster writer.
 */
export type DataMessageEncoder<T> = (message: T, headroom: number) => Uint8Array | undefined;

/** The short-path encoder for `schema`'s messages, or undefined when it carries no channel data. */
export function dataMessageEncoder(schema: DescMessage): DataMessageEncoder<unknown> | undefined {
  switch (schema.typeName) {
    case "rmm.v1.ConnectRequest":
      return (m, headroom) => encodeFrameIn(m as ConnectRequest, CONNECT_REQUEST_FRAME, headroom);
    case "rmm.v1.ConnectResponse":
      return (m, headroom) => encodeFrameIn(m as ConnectResponse, CONNECT_RESPONSE_FRAME, headroom);
    case "rmm.v1.OpenChannelRequest":
    case "rmm.v1.OpenChannelResponse":
      return (m, headroom) => encodeChannelMessage(m as OpenChannelRequest | OpenChannelResponse, headroom);
    default:
      return undefined;
  }
}

/** Field numbers, as in the .proto files. */
const CONNECT_REQUEST_FRAME = 6;
const CONNECT_RESPONSE_FRAME = 4;
const CHANNEL_MESSAGE_DATA = 2;
const FRAME_SESSION_ID = 1;
const FRAME_CHANNEL_ID = 2;
const FRAME_SEQUENCE = 3;
const FRAME_DATA = 5;
const DATA_BYTES = 1;
const DATA_STREAM = 2;

const VARINT = 0;
const LENGTH_DELIMITED = 2;
const tag = (field: number, wireType: number) => (field << 3) | wireType;

/** Unknown fields kept from decoding are written by toBinary; messages holding some take the general path. */
function hasUnknown(message: object): boolean {
  const unknown = (message as { $unknown?: unknown[] }).$unknown;
  return unknown !== undefined && unknown.length > 0;
}

function encodeFrameIn(
  message: ConnectRequest | ConnectResponse,
  outerField: number,
  headroom: number,
): Uint8Array | undefined {
  if (message.kind.case !== "frame" || hasUnknown(message)) return undefined;
  const frame: TunnelFrame = message.kind.value;
  if (frame.payload.case !== "data" || hasUnknown(frame)) return undefined;
  const data = frame.payload.value;
  if (!plainData(data) || !plainUint32(frame.channelId) || frame.sequence > MAX_SAFE_BIG || frame.sequence < 0n)
    return undefined;
  const sequence = Number(frame.sequence);
  const session = sessionIdBytes(frame.sessionId);
  if (!session) return undefined;
  const dataSize = channelDataSize(data);
  const frameSize =
    (session.length > 0 ? 1 + varintSize(session.length) + session.length : 0) +
    (frame.channelId !== 0 ? 1 + varintSize(frame.channelId) : 0) +
    (sequence !== 0 ? 1 + varintSize(sequence) : 0) +
    1 +
    varintSize(dataSize) +
    dataSize;
  const out = new Uint8Array(headroom + 1 + varintSize(frameSize) + frameSize);
  let at = headroom;
  out[at++] = tag(outerField, LENGTH_DELIMITED);
  at = writeVarint(out, at, frameSize);
  if (session.length > 0) {
    out[at++] = tag(FRAME_SESSION_ID, LENGTH_DELIMITED);
    at = writeVarint(out, at, session.length);
    out.set(session, at);
    at += session.length;
  }
  if (frame.channelId !== 0) {
    out[at++] = tag(FRAME_CHANNEL_ID, VARINT);
    at = writeVarint(out, at, frame.channelId);
  }
  if (sequence !== 0) {
    out[at++] = tag(FRAME_SEQUENCE, VARINT);
    at = writeVarint(out, at, sequence);
  }
  out[at++] = tag(FRAME_DATA, LENGTH_DELIMITED);
  at = writeVarint(out, at, dataSize);
  writeChannelData(out, at, data);
  return out;
}

function encodeChannelMessage(
  message: OpenChannelRequest | OpenChannelResponse,
  headroom: number,
): Uint8Array | undefined {
  if (message.kind.case !== "data" || hasUnknown(message)) return undefined;
  const data = message.kind.value;
  if (!plainData(data)) return undefined;
  const dataSize = channelDataSize(data);
  const out = new Uint8Array(headroom + 1 + varintSize(dataSize) + dataSize);
  let at = headroom;
  out[at++] = tag(CHANNEL_MESSAGE_DATA, LENGTH_DELIMITED);
  at = writeVarint(out, at, dataSize);
  writeChannelData(out, at, data);
  return out;
}

const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);
const MAX_UINT32 = 0xffff_ffff;
/** Enums are int32 on the wire; a negative one is a ten-byte varint, which only toBinary writes. */
const MAX_INT32 = 0x7fff_ffff;

/** ChannelData as the short path writes it: no unknown fields, a non-negative output stream. */
function plainData(data: ChannelData): boolean {
  return !hasUnknown(data) && Number.isInteger(data.stream) && data.stream >= 0 && data.stream <= MAX_INT32;
}

/** Values toBinary would refuse (it asserts a uint32) are left to it, so it refuses them as ever. */
function plainUint32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= MAX_UINT32;
}

function channelDataSize(data: ChannelData): number {
  return (
    (data.data.length > 0 ? 1 + varintSize(data.data.length) + data.data.length : 0) +
    (data.stream !== 0 ? 1 + varintSize(data.stream) : 0)
  );
}

function writeChannelData(out: Uint8Array, at: number, data: ChannelData): number {
  if (data.data.length > 0) {
    out[at++] = tag(DATA_BYTES, LENGTH_DELIMITED);
    at = writeVarint(out, at, data.data.length);
    out.set(data.data, at);
    at += data.data.length;
  }
  if (data.stream !== 0) {
    out[at++] = tag(DATA_STREAM, VARINT);
    at = writeVarint(out, at, data.stream);
  }
  return at;
}

/** Session ids are UUIDs: ASCII, so their UTF-8 is their char codes. Anything else takes the general path. */
const sessionIds = new Map<string, Uint8Array>();
/** Session ids remembered; a server has a few live sessions per technician. */
const SESSION_IDS_KEPT = 1024;

function sessionIdBytes(id: string): Uint8Array | undefined {
  const known = sessionIds.get(id);
  if (known) return known;
  const bytes = new Uint8Array(id.length);
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if (c >= 0x80) return undefined;
    bytes[i] = c;
  }
  if (sessionIds.size >= SESSION_IDS_KEPT) sessionIds.clear();
  sessionIds.set(id, bytes);
  return bytes;
}

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeVarint(out: Uint8Array, at: number, n: number): number {
  while (n >= 0x80) {
    out[at++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  out[at++] = n;
  return at;
}
