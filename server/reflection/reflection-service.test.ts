import { execFile } from "node:child_process";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import { create, fromBinary, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AsyncQueue } from "../../common/async-queue.js";
import {
  ServerReflection as V1,
  ServerReflectionRequestSchema as RequestV1,
  type ServerReflectionRequest,
} from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as V1alpha } from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { AgentService } from "../../gen/rmm/v1/agent_service_pb.js";
import { TunnelService } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { registerReflection } from "./reflection-service.js";

describe("server reflection", () => {
  let server: http2.Http2Server;
  const sessions = new Set<http2.ServerHttp2Session>();
  let url: string;

  beforeAll(async () => {
    server = http2.createServer(
      connectNodeAdapter({
        routes: (router) => registerReflection(router, [AgentService, TunnelService] as DescService[]),
      }),
    );
    server.on("session", (session) => sessions.add(session));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const session of sessions) session.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  /** Sends requests on one reflection stream and collects the answers. */
  async function ask(service: typeof V1 | typeof V1alpha, requests: Array<ServerReflectionRequest["messageRequest"]>) {
    const client = createClient(service as typeof V1, createGrpcTransport({ baseUrl: url }));
    const queue = new AsyncQueue<ServerReflectionRequest>();
    for (const messageRequest of requests) queue.push(create(RequestV1, { host: "h", messageRequest }));
    queue.end();
    const answers = [];
    for await (const res of client.serverReflectionInfo(queue)) answers.push(res);
    return answers;
  }

  it("lists our services and its own", async () => {
    const [res] = await ask(V1, [{ case: "listServices", value: "" }]);
    expect(
      res?.messageResponse.case === "listServicesResponse" && res.messageResponse.value.service.map((s) => s.name),
    ).toEqual(
      expect.arrayContaining([
        "rmm.v1.TunnelService",
        "rmm.v1.AgentService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
      ]),
    );
  });

  it.each([
    ["a service", "rmm.v1.TunnelService", "rmm/v1/tunnel_service.proto"],
    ["a method", "rmm.v1.AgentService.Connect", "rmm/v1/agent_service.proto"],
    ["a message", "rmm.v1.TunnelFrame", "rmm/v1/frame.proto"],
    ["an enum", "rmm.v1.CloseReason", "rmm/v1/tunnel_service.proto"],
  ])("finds the file defining %s, with its imports", async (_what, symbol, file) => {
    const [res] = await ask(V1, [{ case: "fileContainingSymbol", value: symbol }]);
    expect(res?.messageResponse.case).toBe("fileDescriptorResponse");
    const names =
      res!.messageResponse.case === "fileDescriptorResponse"
        ? res!.messageResponse.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b).name)
        : [];
    expect(names.at(-1)).toBe(file);
    if (file === "rmm/v1/tunnel_service.proto") expect(names).toContain("google/protobuf/timestamp.proto");
  });

  it("answers unknown symbols with NOT_FOUND and keeps the stream going, on v1alpha too", async () => {
    const answers = await ask(V1alpha, [
      { case: "fileContainingSymbol", value: "no.such.Thing" },
      { case: "fileByFilename", value: "rmm/v1/frame.proto" },
    ]);
    expect(answers[0]?.messageResponse).toMatchObject({
      case: "errorResponse",
      value: { errorCode: 5, errorMessage: 'symbol "no.such.Thing" not found' },
    });
    expect(answers[1]?.messageResponse.case).toBe("fileDescriptorResponse");
    expect(answers[1]?.validHost).toBe("h");
  });

  it("lets buf curl list and describe the services", async () => {
    const { stdout } = await promisify(execFile)("node_modules/.bin/buf", [
      "curl",
      "--http2-prior-knowledge",
      "--list-methods",
      url,
    ]);
    expect(stdout.split("\n")).toEqual(
      expect.arrayContaining(["rmm.v1.TunnelService/OpenTunnel", "rmm.v1.AgentService/Connect"]),
    );
  });
});
