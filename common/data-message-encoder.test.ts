import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ConnectRequestSchema, ConnectResponseSchema, HeartbeatSchema } from "../gen/rmm/v1/agent_service_pb.js";
import { OutputStream } from "../gen/rmm/v1/exec_pb.js";
import { ChannelDataSchema } from "../gen/rmm/v1/frame_pb.js";
import { OpenChannelRequestSchema, OpenChannelResponseSchema } from "../gen/rmm/v1/tunnel_service_pb.js";
import { dataMessageEncoder } from "./data-message-encoder.js";

const SESSION = "6f1c2a9e-4b7d-4e0a-9c3f-2d8e5b1a7c40";
const payloads = [new Uint8Array(0), new Uint8Array([7]), new Uint8Array(200).fill(1), new Uint8Array(70_000).fill(9)];
const streams = [OutputStream.UNSPECIFIED, OutputStream.STDOUT, OutputStream.STDERR];
const sequences = [0n, 1n, 127n, 128n, 300n, 2n ** 40n];
const channelIds = [0, 1, 127, 128, 0xffff_ffff];

/** Byte equality, reported as hex of the heads (a deep toEqual over 70 KB arrays takes seconds). */
function expectSameBytes(actual: Uint8Array | undefined, expected: Uint8Array): void {
  const head = (b: Uint8Array) => Buffer.from(b.subarray(0, 48)).toString("hex");
  expect(actual && { length: actual.length, head: head(actual), same: Buffer.from(actual).equals(expected) }).toEqual({
    length: expected.length,
    head: head(expected),
    same: true,
  });
}

function encoder(schema: DescMessage) {
  const encode = dataMessageEncoder(schema);
  if (!encode) throw new Error(`no encoder for ${schema.typeName}`);
  return encode;
}

describe("the single-copy writer for channel data", () => {
  for (const [schema, field] of [
    [ConnectRequestSchema, "frame"],
    [ConnectResponseSchema, "frame"],
  ] as const) {
    it(`writes ${schema.typeName} data frames byte for byte as toBinary does`, () => {
      const encode = encoder(schema);
      for (const data of payloads)
        for (const stream of streams)
          for (const sequence of sequences)
            for (const channelId of channelIds)
              for (const sessionId of [SESSION, ""]) {
                const init = {
                  kind: {
                    case: field,
                    value: { sessionId, channelId, sequence, payload: { case: "data", value: { data, stream } } },
                  },
                } as MessageInitShape<typeof schema>;
                const message = create(schema as typeof ConnectRequestSchema, init as never);
                expectSameBytes(encode(message, 0), toBinary(schema as typeof ConnectRequestSchema, message));
              }
    });
  }

  for (const schema of [OpenChannelRequestSchema, OpenChannelResponseSchema]) {
    it(`writes ${schema.typeName} data byte for byte as toBinary does`, () => {
      const encode = encoder(schema);
      for (const data of payloads)
        for (const stream of streams) {
          const message = create(schema as typeof OpenChannelResponseSchema, {
            kind: { case: "data", value: { data, stream } },
          });
          expectSameBytes(encode(message, 0), toBinary(schema as typeof OpenChannelResponseSchema, message));
        }
    });
  }

  it("leaves room in front of the message for an envelope", () => {
    const message = create(OpenChannelResponseSchema, { kind: { case: "data", value: { data: payloads[2]! } } });
    const bytes = encoder(OpenChannelResponseSchema)(message, 5)!;
    expect(bytes.subarray(0, 5)).toEqual(new Uint8Array(5));
    expect(fromBinary(OpenChannelResponseSchema, bytes.subarray(5))).toEqual(message);
  });

  it("copies the payload, so a later change to the caller's buffer does not reach the wire", () => {
    const data = new Uint8Array([1, 2, 3]);
    const message = create(OpenChannelRequestSchema, { kind: { case: "data", value: { data } } });
    const bytes = encoder(OpenChannelRequestSchema)(message, 0)!;
    data.fill(0);
    expect(fromBinary(OpenChannelRequestSchema, bytes).kind.value).toMatchObject({ data: new Uint8Array([1, 2, 3]) });
  });

  it("leaves every other message to the general writer", () => {
    expect(dataMessageEncoder(HeartbeatSchema)).toBeUndefined();
    const request = encoder(ConnectRequestSchema);
    expect(request(create(ConnectRequestSchema, { kind: { case: "heartbeat", value: {} } }), 0)).toBeUndefined();
    const credit = create(ConnectResponseSchema, {
      kind: { case: "frame", value: { sessionId: SESSION, payload: { case: "credit", value: { bytes: 1 } } } },
    });
    expect(encoder(ConnectResponseSchema)(credit, 0)).toBeUndefined();
    const close = create(OpenChannelResponseSchema, { kind: { case: "close", value: { code: 1 } } });
    expect(encoder(OpenChannelResponseSchema)(close, 0)).toBeUndefined();
  });

  it("leaves data with unknown fields, a non-ASCII session id or out-of-range numbers to the general writer", () => {
    const encode = encoder(ConnectResponseSchema);
    const frame = (value: object) =>
      create(ConnectResponseSchema, {
        kind: { case: "frame", value: { sessionId: SESSION, payload: { case: "data", value: {} }, ...value } },
      });
    const withUnknown = fromBinary(
      ChannelDataSchema,
      new Uint8Array([...toBinary(ChannelDataSchema, create(ChannelDataSchema, { data: payloads[1]! })), 0x48, 0x01]),
    );
    expect(encode(frame({ payload: { case: "data", value: withUnknown } }), 0)).toBeUndefined();
    expect(encode(frame({ sessionId: "séance" }), 0)).toBeUndefined();
    expect(encode(frame({ sequence: 2n ** 60n }), 0)).toBeUndefined();
    expect(encode(frame({ channelId: -1 }), 0)).toBeUndefined();
    expect(encode(frame({ payload: { case: "data", value: { stream: -1 } } }), 0)).toBeUndefined();
  });
});
