import { readFileSync } from "node:fs";
import { Code, ConnectError } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { dataMessageEncoder } from "../common/data-message-encoder.js";
import { grpcJsMethodDefinition } from "../common/grpc-js-service.js";
import {
  AgentService,
  ConnectRequestSchema,
  type ConnectRequest,
  type ConnectResponse,
  type EnrollRequest,
  type EnrollResponse,
} from "../gen/rmm/v1/agent_service_pb.js";
import type { AgentStream, AgentTransport } from "./transport.js";

/** HTTP/2 PING every 30 s while a call is open, so a dead path is noticed without waiting for TCP. */
export const KEEPALIVE_TIME_MS = 30_000;
/** A PING unanswered this long ends the connection. */
export const KEEPALIVE_TIMEOUT_MS = 10_000;
/**
 * HTTP/2 receive window for the agent's stream and connection. grpc-js keeps
 * the protocol's 64 KiB default otherwise, which caps a tunnel at one 64 KiB
 * window per round trip whatever the channel credit. Defaults to 1 MiB.
 */
export const FLOW_CONTROL_WINDOW_BYTES = 1 << 20;
/** Matches the server's default message limit (4 MiB). */
export const MAX_MESSAGE_BYTES = 4 << 20;

export interface GrpcTransportOptions {
  /** PEM CA for the server's certificate; the system roots when absent. Ignored for http:// URLs. */
  caFile?: string;
}

const enrollMethod = grpcJsMethodDefinition(AgentService.method.enroll);
const connectMethod = grpcJsMethodDefinition(AgentService.method.connect);
const encodeData = dataMessageEncoder(ConnectRequestSchema)!;
/** Channel data in one copy (see dataMessageEncoder); everything else as toBinary writes it. */
const serializeConnectRequest = (msg: ConnectRequest): Buffer => {
  const bytes = encodeData(msg, 0);
  return bytes ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) : connectMethod.requestSerialize(msg);
};

/**
 * The agent's transport: @grpc/grpc-js over HTTP/2 (keepalive PINGs and
 * connection management built in), serializing with the same generated
 * protobuf-es schemas as the server. TLS unless the URL says http://.
 *
 * Every call gets a channel (and so a TCP connection) of its own, closed when
 * the call ends. After a server restart, a channel kept from the previous
 * stream is still in grpc-js's own reconnect backoff, which delays the new
 * attempt past the one our backoff chose; a fresh channel connects at once.
 * It also gives each simulated agent of the load generator its own
 * connection, as real agents have.
 */
export function createGrpcTransport(serverUrl: string, opts: GrpcTransportOptions = {}): AgentTransport {
  const url = new URL(serverUrl);
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new Error(`server URL "${serverUrl}" must start with https:// (or http:// for cleartext)`);
  const credentials =
    url.protocol === "http:"
      ? grpc.credentials.createInsecure()
      : grpc.credentials.createSsl(opts.caFile ? readFileSync(opts.caFile) : undefined);
  const target = `${url.hostname}:${url.port || (url.protocol === "https:" ? "443" : "80")}`;
  const open = new Set<{ client: grpc.Client; cancel: () => void }>();
  const newClient = () =>
    new grpc.Client(target, credentials, {
      "grpc.keepalive_time_ms": KEEPALIVE_TIME_MS,
      "grpc.keepalive_timeout_ms": KEEPALIVE_TIMEOUT_MS,
      "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
      "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
      "grpc-node.flow_control_window": FLOW_CONTROL_WINDOW_BYTES,
      // grpc-js otherwise shares one connection among all channels of the
      // process with the same target and options: the old one, after a restart.
      "grpc.use_local_subchannel_pool": 1,
      // Our own backoff decides when to reconnect; grpc-js should not add a second, unjittered one.
      "grpc.initial_reconnect_backoff_ms": 100,
      "grpc.max_reconnect_backoff_ms": 1_000,
    });

  return {
    enroll: (req: EnrollRequest) =>
      new Promise<EnrollResponse>((resolve, reject) => {
        const client = newClient();
        client.makeUnaryRequest(
          enrollMethod.path,
          enrollMethod.requestSerialize,
          enrollMethod.responseDeserialize,
          req,
          (err, res) => {
            client.close();
            if (err || !res) reject(toConnectError(err));
            else resolve(res);
          },
        );
      }),
    connect(credential: string): AgentStream {
      const client = newClient();
      const metadata = new grpc.Metadata();
      metadata.set("authorization", `Bearer ${credential}`);
      // Messages are encoded in send(), not when grpc-js's writable gets round to them: a message queued
      // behind a busy HTTP/2 stream would otherwise keep the buffers it carries alive, and so a download
      // could not reuse its read buffer (see AgentStream.send).
      const call = client.makeBidiStreamRequest(
        connectMethod.path,
        (encoded: Buffer) => encoded,
        connectMethod.responseDeserialize,
        metadata,
      );
      const entry = { client, cancel: () => call.cancel() };
      open.add(entry);
      call.once("status", () => {
        open.delete(entry);
        client.close();
      });
      return {
        send: (msg: ConnectRequest) => {
          if (!call.writableEnded && !call.destroyed) call.write(serializeConnectRequest(msg));
        },
        messages: (async function* () {
          try {
            for await (const msg of call as AsyncIterable<ConnectResponse>) yield msg;
          } catch (err) {
            throw toConnectError(err as grpc.ServiceError);
          }
        })(),
        close: () => call.cancel(),
      };
    },
    close: () => {
      for (const { client, cancel } of open) {
        cancel();
        client.close();
      }
      open.clear();
    },
  };
}

/** grpc-js statuses use the same numeric codes as connect's Code. */
function toConnectError(err: grpc.ServiceError | null): ConnectError {
  if (!err) return new ConnectError("empty response", Code.Internal);
  return new ConnectError(err.details || err.message, err.code as number as Code);
}
