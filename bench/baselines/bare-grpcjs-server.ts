/**
 * The bare @grpc/grpc-js baseline: TunnelService.OpenChannel as a trivial
 * echo (no auth, no database), serialized with the same protobuf-es schemas
 * as rmm-server through our grpc-js adapter.
 *
 *   node --expose-gc dist/bench/baselines/bare-grpcjs-server.js --port 0
 *
 * Speaks the stdout protocol of `runBaselineProcess`.
 */
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { grpcJsServiceDefinition } from "../../common/grpc-js-service.js";
import {
  OpenChannelResponseSchema,
  TunnelService,
  type OpenChannelRequest,
  type OpenChannelResponse,
} from "../../gen/rmm/v1/tunnel_service_pb.js";
import { STREAM_WINDOW_BYTES } from "../../server/listener.js";
import { BASELINE_HOST } from "./baseline-kind.js";
import { runBaselineProcess, type StartedBaseline } from "./run-baseline-process.js";

type EchoCall = grpc.ServerDuplexStream<OpenChannelRequest, OpenChannelResponse>;

/** Serves the bare echo on `port` (0: any free one) on 127.0.0.1. */
async function startBareGrpcJsServer(port: number): Promise<StartedBaseline> {
  // grpc-js 1.14.3 reads this option on clients only (the server keeps
  // Node's 64 KiB receive window; grpc/grpc-node#3058 adds it); set anyway so
  // a grpc-js that honours it gets the real server's 1 MiB.
  const server = new grpc.Server({ "grpc-node.flow_control_window": STREAM_WINDOW_BYTES });
  server.addService(grpcJsServiceDefinition(TunnelService), { OpenChannel: echo });
  const boundPort = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${BASELINE_HOST}:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    ),
  );
  return {
    port: boundPort,
    stop: async () => {
      // Idle streams never end by themselves; a baseline has nothing to drain.
      server.forceShutdown();
    },
  };
}

/** Echoes every data message, pausing reads while the response side is full so memory stays flat. */
function echo(call: EchoCall): void {
  call.on("data", (req: OpenChannelRequest) => {
    if (req.kind.case !== "data") return;
    const res = create(OpenChannelResponseSchema, { kind: { case: "data", value: { data: req.kind.value.data } } });
    if (!call.write(res)) {
      call.pause();
      call.once("drain", () => call.resume());
    }
  });
  call.on("end", () => call.end());
  // A client that goes away cancels the call; grpc-js reports that as 'cancelled', not as an error.
  call.on("error", (err) => process.stderr.write(`bare-grpcjs-server: call failed: ${err.message}\n`));
}

runBaselineProcess("bare-grpcjs-server", startBareGrpcJsServer);
