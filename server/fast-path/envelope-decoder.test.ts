import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { grpcEnvelope as envelope } from "../../test/support/raw-grpc-call.js";
import { EnvelopeDecoder } from "./envelope-decoder.js";

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

describe("EnvelopeDecoder", () => {
  const messages = [bytes(0, 1), bytes(1, 2), bytes(300, 3), bytes(4, 4)];
  const wire = Uint8Array.from(messages.flatMap((m) => [...envelope(m)]));

  it("yields every message whole and in order, wherever the chunks split the body", () => {
    for (let size = 1; size <= wire.length; size++) {
      const decoder = new EnvelopeDecoder(1024);
      const got: Uint8Array[] = [];
      for (let at = 0; at < wire.length; at += size) got.push(...decoder.push(wire.subarray(at, at + size)));
      expect(got, `chunks of ${size}`).toEqual(messages);
      expect(decoder.pending).toBe(false);
    }
  });

  it("knows when a message is still incomplete", () => {
    const decoder = new EnvelopeDecoder(1024);
    expect(decoder.push(wire.subarray(0, 8))).toEqual([messages[0]]);
    expect(decoder.pending).toBe(true);
  });

  it("refuses a length past the limit from the header alone", () => {
    const decoder = new EnvelopeDecoder(10);
    const err = (() => {
      try {
        decoder.push(envelope(bytes(11, 0)).subarray(0, 5));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.ResourceExhausted);
  });

  it("refuses a compressed message (none is ever negotiated)", () => {
    expect(() => new EnvelopeDecoder(1024).push(envelope(bytes(3, 0), 1))).toThrow(/compressed/);
  });
});
