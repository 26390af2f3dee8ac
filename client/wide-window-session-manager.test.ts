import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  CONNECTION_RECEIVE_WINDOW_BYTES,
  STREAM_RECEIVE_WINDOW_BYTES,
  WideWindowSessionManager,
} from "./wide-window-session-manager.js";

describe("WideWindowSessionManager", () => {
  let server: http2.Http2Server;
  let url: string;
  const remoteSettings: http2.Settings[] = [];

  beforeEach(async () => {
    server = http2.createServer((_req, res) => res.end("ok"));
    server.on("session", (session) => session.on("remoteSettings", (s) => remoteSettings.push(s)));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    remoteSettings.length = 0;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("opens connections with an 8 MiB connection window and 1 MiB stream windows", async () => {
    const manager = new WideWindowSessionManager(url);
    const stream = await manager.request("GET", "/", {}, {});
    // abort() below ends the stream with Canceled; that is expected here.
    stream.on("error", () => undefined);
    stream.resume();
    await new Promise((resolve) => stream.once("end", resolve));
    expect(stream.session?.state.effectiveLocalWindowSize).toBe(CONNECTION_RECEIVE_WINDOW_BYTES);
    expect(remoteSettings.at(-1)?.initialWindowSize).toBe(STREAM_RECEIVE_WINDOW_BYTES);
    manager.abort();
  });
});
