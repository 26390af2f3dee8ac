/**
 * Lets @grpc/grpc-js speak our protobuf-es v2 contract: grpc-js wants a
 * path, two streaming flags and four (de)serializers per method; protobuf-es
 * gives us the descriptors and `toBinary` / `fromBinary`. No protobufjs,
 * no proto-loader, no second copy of the schema.
 *
 * @example
 * ```ts
 * const server = new grpc.Server();
 * server.addService(grpcJsServiceDefinition(TunnelService), {
 *   GetTunnelStatus: (call, callback) => callback(null, create(GetTunnelStatusResponseSchema)),
 * });
 * const client = createGrpcJsClient(TunnelService, "127.0.0.1:50051", grpc.credentials.createInsecure());
 * ```
 */
import { fromBinary, toBinary, type DescMethod, type DescService, type MessageShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";

/** The grpc-js definition of one RPC, typed by its protobuf-es request and response messages. */
export type GrpcJsMethodDefinition<M extends DescMethod> = grpc.MethodDefinition<
  MessageShape<M["input"]>,
  MessageShape<M["output"]>
>;

/**
 * The grpc-js definition of one RPC. Typed, so it also serves the raw
 * `grpc.Client` calls:
 * `client.makeUnaryRequest(d.path, d.requestSerialize, d.responseDeserialize, req, cb)`.
 */
export function grpcJsMethodDefinition<M extends DescMethod>(method: M): GrpcJsMethodDefinition<M> {
  // Annotated so toBinary/fromBinary see M's own schemas (and so M's message
  // types) rather than the DescMessage that plain `method.input` widens to.
  const input: M["input"] = method.input;
  const output: M["output"] = method.output;
  return {
    path: `/${method.parent.typeName}/${method.name}`,
    requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
    responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
    requestSerialize: (message) => asBuffer(toBinary(input, message)),
    requestDeserialize: (bytes) => fromBinary(input, bytes),
    responseSerialize: (message) => asBuffer(toBinary(output, message)),
    responseDeserialize: (bytes) => fromBinary(output, bytes),
    // grpc-js also exposes each method under this name, on clients and when
    // looking up server implementations (as @grpc/proto-loader does).
    originalName: method.localName,
  };
}

/**
 * A Buffer view of `bytes`, sharing its memory. grpc-js wants a Buffer;
 * `Buffer.from(uint8Array)` would copy every message (64 KiB per tunnel chunk).
 */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The grpc-js definition of a whole service, for `server.addService` and
 * `grpc.makeGenericClientConstructor`. Keys are the RPC names as written in
 * the .proto (`GetTunnelStatus`); each method is also reachable by its
 * protobuf-es local name (`getTunnelStatus`) through `originalName`.
 */
export function grpcJsServiceDefinition(service: DescService): grpc.ServiceDefinition {
  return Object.fromEntries(service.methods.map((method) => [method.name, grpcJsMethodDefinition(method)]));
}

/**
 * What `createGrpcJsClient` returns: a `grpc.Client` plus one method per RPC.
 * grpc-js types those methods as `Function`; call them with grpc-js's usual
 * signatures (unary: `(request, [metadata], [options], callback)`, bidi:
 * `([metadata], [options])` returning a duplex stream), or use the typed
 * `grpcJsMethodDefinition` with the `grpc.Client` request methods.
 */
export type GrpcJsServiceClient = InstanceType<grpc.ServiceClientConstructor>;

/**
 * A grpc-js client for `service` at `address` ("host:port"). It has one
 * method per RPC, named as in the .proto and by local name
 * (`client.GetTunnelStatus(req, cb)`, `client.connect()`), with grpc-js's
 * usual callback and stream signatures. Close it with `client.close()`.
 *
 * `options` are grpc-js channel options (keepalive, message size limits);
 * none by default.
 */
export function createGrpcJsClient(
  service: DescService,
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: grpc.ChannelOptions,
): GrpcJsServiceClient {
  // grpc-js documents serviceName as the fully qualified name; it only labels the class.
  const Client = grpc.makeGenericClientConstructor(grpcJsServiceDefinition(service), service.typeName);
  return new Client(address, credentials, options);
}
