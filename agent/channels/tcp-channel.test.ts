import { once } from "node:events";
import * as net from "node:net";
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../../common/logger.js";
import { ChannelType, TunnelFrameSchema, type ChannelClose } from "../../gen/rmm/v1/frame_pb.js";
import { startFullBacklogListener } from "../../test/support/full-backlog-listener.js";
import { until } from "../../test/support/until.js";
import { ChannelMux, type FrameInit } from "./channel-mux.js";
import { ForwardAllowList } from "./forward-allow.js";
import { tcpChannel, type TcpChannelOptions } from "./tcp-channel.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup(opts: TcpChannelOptions = {}) {
  const sent: FrameInit[] = [];
  const mux = new ChannelMux(
    "s1",
    (f) => sent.push(f),
    new Map([[ChannelType.TCP, tcpChannel(opts)]]),
    createLogger("test", "silent"),
  );
  cleanups.push(() => mux.closeAll("test over"));
  let seq = 1n;
  const frame = (payload: FrameInit["payload"]) =>
    mux.handle(create(TunnelFrameSchema, { sessionId: "s1", channelId: 1, sequence: seq++, payload }));
  const open = (host: string, port: number, initialCredit = 1 << 20) =>
    frame({
      case: "open",
      value: { type: ChannelType.TCP, initialCredit, params: { case: "tcp", value: { host, port } } },
    });
  const received = () =>
    Buffer.concat(
      sent.filter((f) => f.payload?.case === "data").map((f) => (f.payload!.value as { data: Uint8Array }).data),
    );
  const close = () => sent.find((f) => f.payload?.case === "close")?.payload?.value as ChannelClose | undefined;
  const sawEof = () => sent.some((f) => f.payload?.case === "eof");
  return { sent, frame, open, received, close, sawEof };
}

/** A server on 127.0.0.1 that runs `onConnection` for each client; closed after the test. */
async function listen(onConnection: (socket: net.Socket) => void): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    onConnection(socket);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });
  return (server.address() as net.AddressInfo).port;
}

/** A port nothing listens on: bound, then closed again. */
async function closedPort(): Promise<number> {
  const server = net.createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

describe("tcp channel on the agent", () => {
  it("carries the target's answer after the peer half-closes, then closes cleanly", async () => {
    // The target reads the whole request until the peer's eof, then answers and ends.
    const port = await listen((socket) => {
      const chunks: Buffer[] = [];
      socket.on("data", (c: Buffer) => chunks.push(c));
      socket.on("end", () => socket.end(Buffer.concat(chunks).toString().toUpperCase()));
    });
    const { frame, open, received, close, sawEof } = setup();
    open("localhost", port);
    frame({ case: "data", value: { data: Buffer.from("hello ") } });
    frame({ case: "data", value: { data: Buffer.from("target") } });
    frame({ case: "eof", value: {} });
    await until(() => close() !== undefined, "the channel to close");
    expect(received().toString()).toBe("HELLO TARGET");
    expect(sawEof()).toBe(true);
    expect(close()).toMatchObject({ code: 0, message: "" });
  });

  it("never sends more than the peer granted, and reads on as credit arrives", async () => {
    const total = 4 * 1024 * 1024;
    const port = await listen((socket) => socket.end(Buffer.alloc(total, 7)));
    const { frame, open, received, close } = setup();
    open("127.0.0.1", port, 64 * 1024);
    await until(() => received().length === 64 * 1024, "the first window");
    expect(close()).toBeUndefined();
    // The window is the open's 64 KiB: grant back what arrived, never more than that outstanding.
    let granted = 64 * 1024;
    while (received().length < total) {
      const before = received().length;
      frame({ case: "credit", value: { bytes: before + 64 * 1024 - granted } });
      granted = before + 64 * 1024;
      await until(() => received().length > before, "more of the target's data");
      expect(received().length).toBeLessThanOrEqual(granted);
    }
    frame({ case: "eof", value: {} });
    await until(() => close() !== undefined, "the channel to close");
    expect(close()?.code).toBe(0);
  });

  it("closes with Unavailable naming the target that refused the connection", async () => {
    const port = await closedPort();
    const { open, close } = setup();
    open("127.0.0.1", port);
    await until(() => close() !== undefined, "the refusal");
    expect(close()).toMatchObject({ code: Code.Unavailable, message: `connection refused by 127.0.0.1:${port}` });
  });

  it("closes with NotFound for a host name that does not resolve", async () => {
    const { open, close } = setup();
    open("no-such-host.invalid", 80);
    await until(() => close() !== undefined, "the lookup failure");
    expect(close()?.code).toBe(Code.NotFound);
    expect(close()?.message).toContain("no-such-host.invalid does not resolve");
  });

  it("closes with DeadlineExceeded when the target never accepts within the connect timeout", async () => {
    const listener = await startFullBacklogListener();
    cleanups.push(() => listener.stop());
    const { open, close } = setup({ connectTimeoutMs: 100 });
    open("127.0.0.1", listener.port);
    await until(() => close() !== undefined, "the connect timeout");
    expect(close()).toMatchObject({
      code: Code.DeadlineExceeded,
      message: `no answer from 127.0.0.1:${listener.port} within 100 ms (the agent's connect timeout)`,
    });
  });

  it("refuses targets outside --forward-allow and bad ports before connecting", async () => {
    const allowed = setup({ allow: new ForwardAllowList(["localhost:33*", "10.0.0.*:443"]) });
    allowed.open("localhost", 22);
    expect(allowed.close()).toMatchObject({ code: Code.PermissionDenied });
    expect(allowed.close()?.message).toContain("forwarding to localhost:22 is not allowed on this agent");
    const bad = setup();
    bad.open("localhost", 70_000);
    expect(bad.close()).toMatchObject({ code: Code.InvalidArgument, message: "tcp port must be 1-65535, got 70000" });
  });

  it("ends the target connection when the peer closes the channel", async () => {
    let targetClosed = false;
    let targetGot = "";
    const port = await listen((socket) => {
      socket.on("data", (c: Buffer) => (targetGot += c.toString()));
      socket.on("end", () => (targetClosed = true));
      socket.on("error", () => (targetClosed = true));
    });
    const { frame, open } = setup();
    open("127.0.0.1", port);
    frame({ case: "data", value: { data: Buffer.from("x") } });
    await until(() => targetGot === "x", "the target to read the data");
    frame({ case: "close", value: { code: Code.Canceled, message: "gone" } });
    await until(() => targetClosed, "the target to see its connection end");
  });
});
