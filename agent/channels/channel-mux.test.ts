import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { FORWARD_WINDOW_BYTES } from "../../common/forward-target.js";
import { createLogger } from "../../common/logger.js";
import { ChannelType, TunnelFrameSchema } from "../../gen/rmm/v1/frame_pb.js";
import { ChannelMux, type FrameInit } from "./channel-mux.js";
import { echoChannel } from "./echo-channel.js";

function setup() {
  const sent: FrameInit[] = [];
  const mux = new ChannelMux(
    "s1",
    (f) => sent.push(f),
    new Map([[ChannelType.ECHO, echoChannel]]),
    createLogger("test", "silent"),
  );
  const frame = (channelId: number, sequence: bigint, payload: FrameInit["payload"]) =>
    mux.handle(create(TunnelFrameSchema, { sessionId: "s1", channelId, sequence, payload }));
  const closes = () =>
    sent
      .filter((f) => f.payload?.case === "close")
      .map((f) => [f.channelId, (f.payload!.value as { code: number }).code]);
  return { mux, sent, frame, closes };
}

const bytes = (n: number, fill = 1) => new Uint8Array(n).fill(fill);

describe("ChannelMux", () => {
  it("accepts an echo channel by granting a window, then echoes under the peer's credit", () => {
    const { sent, frame } = setup();
    frame(1, 1n, { case: "open", value: { type: ChannelType.ECHO, initialCredit: 4 } });
    expect(sent[0]).toMatchObject({
      channelId: 1,
      sequence: 1n,
      payload: { case: "credit", value: { bytes: FORWARD_WINDOW_BYTES } },
    });
    frame(1, 2n, { case: "data", value: { data: bytes(10) } });
    // Only 4 bytes of credit: the rest waits on the agent.
    const echoed = () =>
      sent
        .filter((f) => f.payload?.case === "data")
        .reduce((n, f) => n + (f.payload!.value as { data: Uint8Array }).data.length, 0);
    expect(echoed()).toBe(4);
    frame(1, 3n, { case: "credit", value: { bytes: 4 } });
    expect(echoed()).toBe(8);
    frame(1, 4n, { case: "credit", value: { bytes: 4 } });
    expect(echoed()).toBe(10);
    expect(sent.map((f) => f.sequence)).toEqual(sent.map((_, i) => BigInt(i + 1)));
  });

  it("ends a channel whose peer grants more than the window its open advertised", () => {
    const { sent, frame } = setup();
    frame(1, 1n, { case: "open", value: { type: ChannelType.ECHO, initialCredit: 4 } });
    frame(1, 2n, { case: "credit", value: { bytes: 1 } });
    expect(sent.at(-1)?.payload).toMatchObject({
      case: "close",
      value: { code: Code.InvalidArgument, message: expect.stringMatching(/past its window of 4/) },
    });
  });

  it("echoes eof back once everything before it was echoed", () => {
    const { sent, frame } = setup();
    frame(1, 1n, { case: "open", value: { type: ChannelType.ECHO, initialCredit: 4 } });
    frame(1, 2n, { case: "data", value: { data: bytes(6) } });
    frame(1, 3n, { case: "eof", value: {} });
    expect(sent.map((f) => f.payload?.case)).toEqual(["credit", "data"]);
    frame(1, 4n, { case: "credit", value: { bytes: 4 } });
    expect(sent.map((f) => f.payload?.case)).toEqual(["credit", "data", "data", "eof"]);
    frame(1, 5n, { case: "data", value: { data: bytes(1) } });
    expect(sent.at(-1)?.payload).toMatchObject({ case: "close", value: { code: Code.FailedPrecondition } });
  });

  it("returns credit only for echoed bytes, so a stalled reader stops the writer", () => {
    const { sent, frame } = setup();
    frame(1, 1n, { case: "open", value: { type: ChannelType.ECHO, initialCredit: 0 } });
    frame(1, 2n, { case: "data", value: { data: bytes(FORWARD_WINDOW_BYTES) } });
    expect(sent.filter((f) => f.payload?.case === "credit")).toHaveLength(1);
    // The window is used up and nothing was echoed: more data is an overrun.
    frame(1, 3n, { case: "data", value: { data: bytes(1) } });
    expect(sent.at(-1)?.payload).toMatchObject({ case: "close", value: { code: Code.ResourceExhausted } });
  });

  it("answers frames for unknown channels, unsupported types and gaps with a close for that channel only", () => {
    const { mux, frame, closes } = setup();
    frame(9, 5n, { case: "data", value: { data: bytes(1) } });
    frame(2, 1n, { case: "open", value: { type: ChannelType.TERMINAL } });
    frame(3, 1n, { case: "open", value: { type: ChannelType.ECHO, initialCredit: 10 } });
    frame(3, 7n, { case: "data", value: { data: bytes(1) } });
    frame(4, 1n, { case: "open", value: { type: ChannelType.ECHO, initialCredit: 10 } });
    expect(closes()).toEqual([
      [9, Code.NotFound],
      [2, Code.Unimplemented],
      [3, Code.InvalidArgument],
    ]);
    expect(mux.size).toBe(1);
  });

  it("drops late frames of a channel that just ended instead of answering them with a close", () => {
    const { sent, frame, closes } = setup();
    frame(1, 1n, { case: "open", value: { type: ChannelType.ECHO, initialCredit: 10 } });
    frame(1, 2n, { case: "close", value: { code: 0 } });
    // Data the peer sent before it saw the close.
    frame(1, 3n, { case: "credit", value: { bytes: 5 } });
    frame(1, 4n, { case: "data", value: { data: bytes(1) } });
    expect(closes()).toEqual([]);
    expect(sent).toHaveLength(1);
  });

  it("never answers a close with a close", () => {
    const { sent, frame } = setup();
    frame(5, 1n, { case: "close", value: { code: 0 } });
    expect(sent).toEqual([]);
  });

  it("tells every channel when the tunnel closes", () => {
    const { mux, frame } = setup();
    frame(1, 1n, { case: "open", value: { type: ChannelType.ECHO } });
    frame(2, 1n, { case: "open", value: { type: ChannelType.ECHO } });
    mux.closeAll("tunnel closed");
    expect(mux.size).toBe(0);
  });
});
