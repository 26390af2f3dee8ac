/**
 * One echo stream to a bare baseline, on its own connection, behind one
 * interface, so the measurements in `baseline-client.ts` are the same code
 * for connect-node, grpc-js and raw TCP. The RPC clients are configured as
 * our own are (the technician's connect-node client, the agent's grpc-js
 * one), with compression off.
 */
import { once } from "node:events";
import * as net from "node:net";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { FLOW_CONTROL_WINDOW_BYTES } from "../../agent/grpc-transport.js";
import { WideWindowSessionManager } from "../../client/wide-window-session-manager.js";
import { AsyncQueue } from "../../common/async-queue.js";
import { grpcJsMethodDefinition } from "../../common/grpc-js-service.js";
import {
  OpenChannelRequestSchema,
  TunnelService,
  type OpenChannelRequest,
  type OpenChannelResponse,
} from "../../gen/rmm/v1/tunnel_service_pb.js";
import { BASELINE_HOST, type BaselineKind } from "./baseline-kind.js";

/** An echo stream on a connection of its own. */
export interface EchoConnection {
  /** Sends bytes; resolves when the transport can take more without its buffers growing. */
  write(bytes: Uint8Array): Promise<void>;
  /**
   * The echoed bytes in order: one item per message for the RPC baselines,
   * arbitrary slices of the byte stream for TCP.
   */
  readonly received: AsyncIterator<Uint8Array>;
  /** Ends the stream and its connection. */
  close(): Promise<void>;
}

/** Opens an echo stream to the baseline `kind` listening on 127.0.0.1:`port`, on a new connection. */
export function openEchoConnection(kind: BaselineKind, port: number): Promise<EchoConnection> {
  switch (kind) {
    case "connect":
      return Promise.resolve(openConnectEcho(port));
    case "grpcjs":
      return Promise.resolve(openGrpcJsEcho(port));
    case "tcp":
      return openTcpEcho(port);
  }
}

function dataRequest(data: Uint8Array): OpenChannelRequest {
  return create(OpenChannelRequestSchema, { kind: { case: "data", value: { data } } });
}

async function* dataOf(responses: AsyncIterable<OpenChannelResponse>): AsyncGenerator<Uint8Array> {
  for await (const res of responses) if (res.kind.case === "data") yield res.kind.value.data;
}

function openConnectEcho(port: number): EchoConnection {
  const baseUrl = `http://${BASELINE_HOST}:${port}`;
  // The technician client's session manager (same windows, so both are
  // measured the same way), made here also to be able to close the
  // connection, which a transport has no method for.
  const sessions = new WideWindowSessionManager(baseUrl);
  const client = createClient(
    TunnelService,
    createGrpcTransport({ baseUrl, sessionManager: sessions, acceptCompression: [] }),
  );
  // Each write resolves when connect pulls it, which it does once the
  // previous message is written: HTTP/2 flow control then holds the caller.
  const outgoing = new AsyncQueue<{ req: OpenChannelRequest; taken: () => void }>();
  const requests = async function* () {
    for await (const { req, taken } of outgoing) {
      taken();
      yield req;
    }
  };
  const abort = new AbortController();
  const responses = client.openChannel(requests(), { signal: abort.signal });
  return {
    write: (bytes) =>
      new Promise<void>((resolve, reject) => {
        if (!outgoing.push({ req: dataRequest(bytes), taken: resolve })) reject(new Error("echo stream is closed"));
      }),
    received: dataOf(responses),
    close: async () => {
      outgoing.end();
      abort.abort();
      sessions.abort();
    },
  };
}

/** A connect-node client for the bare connect server's unary call, made as the technician client is; `close` ends its connection. */
export function openUnaryClient(port: number): { call(): Promise<void>; close(): void } {
  const baseUrl = `http://${BASELINE_HOST}:${port}`;
  const sessions = new WideWindowSessionManager(baseUrl);
  const client = createClient(
    TunnelService,
    createGrpcTransport({ baseUrl, sessionManager: sessions, acceptCompression: [] }),
  );
  return {
    call: async () => {
      await client.getTunnelStatus({});
    },
    close: () => sessions.abort(),
  };
}

const openChannelMethod = grpcJsMethodDefinition(TunnelService.method.openChannel);

function openGrpcJsEcho(port: number): EchoConnection {
  const client = new grpc.Client(`${BASELINE_HOST}:${port}`, grpc.credentials.createInsecure(), {
    "grpc-node.flow_control_window": FLOW_CONTROL_WINDOW_BYTES,
    // grpc-js shares one connection among all clients of a process that
    // target the same address with the same options; real agents each hold
    // their own, and so must each simulated one.
    "grpc.use_local_subchannel_pool": 1,
  });
  const call = client.makeBidiStreamRequest(
    openChannelMethod.path,
    openChannelMethod.requestSerialize,
    openChannelMethod.responseDeserialize,
  );
  const ended = new Promise<void>((resolve) => call.once("status", () => resolve()));
  let failure: Error | undefined;
  let closing = false;
  // Without a listener an error would crash the harness; our own cancel in close() is expected.
  call.on("error", (err: Error) => {
    if (!closing) failure = err;
  });
  return {
    write: async (bytes) => {
      if (failure) throw failure;
      if (!call.write(dataRequest(bytes))) await once(call, "drain");
    },
    received: dataOf(call as AsyncIterable<OpenChannelResponse>),
    close: async () => {
      closing = true;
      call.cancel();
      await ended;
      client.close();
    },
  };
}

async function openTcpEcho(port: number): Promise<EchoConnection> {
  const socket = net.connect({ host: BASELINE_HOST, port, noDelay: true });
  let failure: Error | undefined;
  socket.on("error", (err) => {
    failure = err;
  });
  await once(socket, "connect");
  const closed = once(socket, "close");
  return {
    write: async (bytes) => {
      if (failure) throw failure;
      if (!socket.write(bytes)) await once(socket, "drain");
    },
    received: (socket as AsyncIterable<Buffer>)[Symbol.asyncIterator](),
    close: async () => {
      socket.destroy();
      await closed;
    },
  };
}
