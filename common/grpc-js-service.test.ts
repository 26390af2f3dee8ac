import { once } from "node:events";
import { create, type DescMethod, type MessageShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AgentService,
  ConnectRequestSchema,
  ConnectResponseSchema,
  type ConnectRequest,
  type ConnectResponse,
} from "../gen/rmm/v1/agent_service_pb.js";
import {
  GetTunnelStatusRequestSchema,
  GetTunnelStatusResponseSchema,
  SessionState,
  TunnelService,
  type GetTunnelStatusRequest,
  type GetTunnelStatusResponse,
} from "../gen/rmm/v1/tunnel_service_pb.js";
import {
  createGrpcJsClient,
  grpcJsMethodDefinition,
  grpcJsServiceDefinition,
  type GrpcJsServiceClient,
} from "./grpc-js-service.js";

const KNOWN_SESSION = "3f1c9a2e-5b7d-4e8f-9a01-23456789abcd";

/** GetTunnelStatus knows one session; anything else is NOT_FOUND. */
const getTunnelStatus: grpc.handleUnaryCall<GetTunnelStatusRequest, GetTunnelStatusResponse> = (call, callback) => {
  if (call.request.sessionId !== KNOWN_SESSION) {
    callback({ code: grpc.status.NOT_FOUND, details: `no session ${call.request.sessionId}` });
    return;
  }
  callback(
    null,
    create(GetTunnelStatusResponseSchema, {
      session: { id: KNOWN_SESSION, agentId: "agent-1", technician: "alice", state: SessionState.ACTIVE },
    }),
  );
};

/** Connect answers hello with hello_ack and echoes frames back; ends when the client does. */
const connect: grpc.handleBidiStreamingCall<ConnectRequest, ConnectResponse> = (call) => {
  call.on("data", (req: ConnectRequest) => {
    switch (req.kind.case) {
      case "hello":
        call.write(
          create(ConnectResponseSchema, {
            kind: {
              case: "helloAck",
              value: { heartbeatIntervalMs: 30_000, offlineAfterMs: 90_000, maxMessageBytes: 4 << 20 },
            },
          }),
        );
        break;
      case "frame":
        call.write(create(ConnectResponseSchema, { kind: { case: "frame", value: req.kind.value } }));
        break;
      default:
        break;
    }
  });
  call.on("end", () => call.end());
};

/** Calls a unary RPC through the method the generic client constructor created for it. */
function callUnary<M extends DescMethod>(
  client: GrpcJsServiceClient,
  method: M,
  request: MessageShape<M["input"]>,
): Promise<MessageShape<M["output"]>> {
  type Output = MessageShape<M["output"]>;
  // ServiceClient types its generated methods as `Function`; this is the
  // grpc-js signature for a unary method called with a request and a callback.
  const fn = client[method.name] as (
    req: MessageShape<M["input"]>,
    cb: grpc.requestCallback<Output>,
  ) => grpc.ClientUnaryCall;
  return new Promise((resolve, reject) => {
    fn.call(client, request, (err: grpc.ServiceError | null, res?: Output) =>
      err || !res ? reject(err) : resolve(res),
    );
  });
}

describe("grpcJsServiceDefinition", () => {
  it("maps every RPC to its gRPC path and streaming flags", () => {
    const tunnel = grpcJsServiceDefinition(TunnelService);
    expect(Object.keys(tunnel)).toEqual(TunnelService.methods.map((m) => m.name));
    expect(Object.keys(tunnel)).toEqual(
      expect.arrayContaining(["ListAgents", "OpenTunnel", "CloseTunnel", "GetTunnelStatus"]),
    );
    expect(tunnel["GetTunnelStatus"]).toMatchObject({
      path: "/rmm.v1.TunnelService/GetTunnelStatus",
      requestStream: false,
      responseStream: false,
      originalName: "getTunnelStatus",
    });
    expect(grpcJsServiceDefinition(AgentService)["Connect"]).toMatchObject({
      path: "/rmm.v1.AgentService/Connect",
      requestStream: true,
      responseStream: true,
    });
  });

  it("serializes with the protobuf-es schemas, both ways", () => {
    const def = grpcJsMethodDefinition(TunnelService.method.getTunnelStatus);
    const request = create(GetTunnelStatusRequestSchema, { sessionId: KNOWN_SESSION });
    const bytes = def.requestSerialize(request);
    expect(Buffer.isBuffer(bytes)).toBe(true);
    expect(def.requestDeserialize(bytes)).toEqual(request);
  });
});

describe("a real grpc-js server and client built from the protobuf-es descriptors", () => {
  let server: grpc.Server;
  let address: string;
  let tunnelClient: GrpcJsServiceClient;
  let agentClient: GrpcJsServiceClient;

  beforeAll(async () => {
    server = new grpc.Server();
    server.addService(grpcJsServiceDefinition(TunnelService), { GetTunnelStatus: getTunnelStatus });
    // Implemented by protobuf-es local name, found through originalName.
    server.addService(grpcJsServiceDefinition(AgentService), { connect });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    address = `127.0.0.1:${port}`;
    tunnelClient = createGrpcJsClient(TunnelService, address, grpc.credentials.createInsecure());
    agentClient = createGrpcJsClient(AgentService, address, grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": 4 << 20,
    });
  });

  afterAll(() => {
    tunnelClient?.close();
    agentClient?.close();
    server?.forceShutdown();
  });

  it("round-trips a unary call", async () => {
    const res = await callUnary(
      tunnelClient,
      TunnelService.method.getTunnelStatus,
      create(GetTunnelStatusRequestSchema, { sessionId: KNOWN_SESSION }),
    );
    expect(res.$typeName).toBe("rmm.v1.GetTunnelStatusResponse");
    expect(res.session).toMatchObject({
      id: KNOWN_SESSION,
      agentId: "agent-1",
      technician: "alice",
      state: SessionState.ACTIVE,
    });
  });

  it("exposes each RPC under its local name too", () => {
    expect(typeof tunnelClient["getTunnelStatus"]).toBe("function");
    expect(typeof tunnelClient["GetTunnelStatus"]).toBe("function");
  });

  it("passes a handler's status code to the caller", async () => {
    const err = await callUnary(
      tunnelClient,
      TunnelService.method.getTunnelStatus,
      create(GetTunnelStatusRequestSchema, { sessionId: "nope" }),
    ).then(
      () => undefined,
      (e: grpc.ServiceError) => e,
    );
    expect(err?.code).toBe(grpc.status.NOT_FOUND);
    expect(err?.details).toBe("no session nope");
  });

  it("round-trips a bidi stream: hello -> hello_ack, then frames echoed in order", async () => {
    // Generated bidi methods take (metadata?, options?) and return a duplex stream.
    const open = agentClient["Connect"] as () => grpc.ClientDuplexStream<ConnectRequest, ConnectResponse>;
    const call = open.call(agentClient);
    const received: ConnectResponse[] = [];
    call.on("data", (res: ConnectResponse) => received.push(res));
    const ended = once(call, "end");

    call.write(
      create(ConnectRequestSchema, {
        kind: { case: "hello", value: { agentId: "agent-1", info: { hostname: "host-1", os: "linux x64" } } },
      }),
    );
    const payloads = [Uint8Array.of(0), Uint8Array.of(1, 2, 3), new Uint8Array(64 * 1024).fill(7)];
    payloads.forEach((data, i) =>
      call.write(
        create(ConnectRequestSchema, {
          kind: {
            case: "frame",
            value: {
              sessionId: KNOWN_SESSION,
              channelId: 1,
              sequence: BigInt(i),
              payload: { case: "data", value: { data } },
            },
          },
        }),
      ),
    );
    call.end();
    await ended;

    expect(received.map((r) => r.kind.case)).toEqual(["helloAck", "frame", "frame", "frame"]);
    const [ack, ...frames] = received;
    expect(ack?.kind).toEqual({
      case: "helloAck",
      value: expect.objectContaining({ heartbeatIntervalMs: 30_000, offlineAfterMs: 90_000, maxMessageBytes: 4 << 20 }),
    });
    frames.forEach((res, i) => {
      expect(res.kind.case).toBe("frame");
      if (res.kind.case !== "frame") return;
      expect(res.kind.value.sequence).toBe(BigInt(i));
      const payload = res.kind.value.payload;
      expect(payload.case).toBe("data");
      // Deserialized from a Buffer, so `data` is a Buffer view: compare bytes, not classes.
      if (payload.case === "data")
        expect(Buffer.from(payload.value.data).equals(payloads[i] ?? new Uint8Array())).toBe(true);
    });
  });
});
