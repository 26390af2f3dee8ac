import { randomBytes } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PrivateNats } from "../../test/support/private-nats.js";
import { until } from "../../test/support/until.js";
import { RemoteStream } from "./remote-stream.js";

const WINDOW = 128 * 1024;
const MAX_MESSAGE = 256 * 1024;

describe("a cross-node stream over a real NATS server", () => {
  let nats: PrivateNats;
  let left: NatsConnection;
  let right: NatsConnection;
  let spy: NatsConnection;
  const seen: Array<{ data: number; headers: number }> = [];

  beforeAll(async () => {
    nats = await PrivateNats.start();
    left = await connect({ servers: nats.url });
    right = await connect({ servers: nats.url });
    spy = await connect({ servers: nats.url });
  });
  afterAll(async () => {
    for (const nc of [left, right, spy]) await nc?.close();
    await nats?.kill();
  });

  /**
   * Two ends, each subscribed before the other sends: in a routed call the
   * open request and its answer travel after each side's subscription on the
   * same connection, which NATS orders; here a flush does it.
   */
  const pair = async () => {
    const a = new RemoteStream(left, { windowBytes: WINDOW, maxMessageBytes: MAX_MESSAGE, peerName: "node right" });
    const b = new RemoteStream(right, { windowBytes: WINDOW, maxMessageBytes: MAX_MESSAGE, peerName: "node left" });
    await Promise.all([left.flush(), right.flush()]);
    a.attach(b.inbox, WINDOW);
    b.attach(a.inbox, WINDOW);
    return { a, b };
  };

  it("stops a sender whose peer does not read once the window is used, buffering at most window plus one message, and resumes as the reader takes messages", async () => {
    // Every message either side sends, as NATS carries it.
    const tap = spy.subscribe("_INBOX.>", {
      callback: (_err, msg) =>
        seen.push({ data: msg.data.length, headers: msg.headers ? msg.headers.toString().length : 0 }),
    });
    await spy.flush();
    const { a, b } = await pair();
    const messages = Array.from({ length: 12 }, () => randomBytes(100 * 1024));
    let written = 0;
    const writer = (async () => {
      for (const m of messages) {
        await a.write(m);
        written += m.length;
      }
      a.halfClose();
    })();
    await until(() => a.sendCredit <= 0, "the sender to run out of credit");
    await until(() => b.bufferedBytes === written, "everything sent to arrive");
    expect(written).toBeLessThanOrEqual(WINDOW + MAX_MESSAGE);
    expect(written).toBeLessThan(messages.length * 100 * 1024);

    const received: Buffer[] = [];
    for await (const m of b.messages()) {
      expect(b.bufferedBytes).toBeLessThanOrEqual(WINDOW + MAX_MESSAGE);
      received.push(Buffer.from(m));
    }
    await writer;
    expect(received.map((r, i) => r.equals(messages[i]!))).toEqual(messages.map(() => true));
    // A 100 KiB message crosses as two NATS messages, each within 64 KiB headers included. The tap is
    // a third connection, so its copies may still be on their way when the reader is done.
    await until(
      () => seen.filter((s) => s.data > 0).length >= 2 * messages.length,
      "the tap to see every data message",
    );
    expect(Math.max(...seen.map((s) => s.data + s.headers))).toBeLessThanOrEqual(64 * 1024);
    a.end({ code: 0, message: "" });
    tap.unsubscribe();
  });

  it("carries an end with its status to the peer, whose reader throws it", async () => {
    const { a, b } = await pair();
    await a.write(new Uint8Array([1, 2, 3]));
    a.end({ code: Code.PermissionDenied, message: "policy says no" });
    const got: number[] = [];
    const err = await (async () => {
      for await (const m of b.messages()) got.push(m.length);
    })().catch((e: unknown) => e);
    expect(got).toEqual([3]);
    expect(err).toMatchObject({ code: Code.PermissionDenied, rawMessage: "policy says no" });
  });

  it("ends with Unavailable when the peer vanishes without a word (its inbox has no subscriber any more)", async () => {
    const { a, b } = await pair();
    let end: { code: number; message: string } | undefined;
    a.onEnd((e) => (end = e));
    b.abandon({ code: Code.Unavailable, message: "killed" });
    // NATS answers "no responders" for the dead inbox; a loaded machine may let the ping time out first.
    await until(() => end !== undefined, "the left side to notice its peer is gone", 10_000);
    expect(end).toMatchObject({
      code: Code.Unavailable,
      message: expect.stringMatching(/node right (is gone|did not answer)/),
    });
    await expect(a.write(new Uint8Array(1))).rejects.toMatchObject({ code: Code.Unavailable });
  });
});
