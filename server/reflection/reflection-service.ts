import {
  create,
  fromBinary,
  toBinary,
  type MessageInitShape,
  type DescEnum,
  type DescFile,
  type DescMessage,
  type DescService,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import { Code } from "@connectrpc/connect";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import {
  ServerReflection as ReflectionV1,
  ServerReflectionRequestSchema as RequestV1,
  ServerReflectionResponseSchema as ResponseV1,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
} from "../../gen/grpc/reflection/v1/reflection_pb.js";
import {
  ServerReflection as ReflectionV1alpha,
  ServerReflectionRequestSchema as RequestV1alpha,
  ServerReflectionResponseSchema as ResponseV1alpha,
} from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";

type ResponseKind = NonNullable<MessageInitShape<typeof ResponseV1>["messageResponse"]>;

/** What the server can describe: files by name and the file that defines each symbol. */
class DescriptorIndex {
  readonly files = new Map<string, DescFile>();
  readonly symbols = new Map<string, DescFile>();
  readonly services: string[];

  constructor(services: readonly DescService[]) {
    this.services = services.map((s) => s.typeName);
    for (const service of services) this.addFile(service.file);
  }

  /** A file with every file it imports, transitively, each once, dependencies first. */
  withDependencies(file: DescFile): DescFile[] {
    const out: DescFile[] = [];
    const visit = (f: DescFile) => {
      if (out.includes(f)) return;
      f.dependencies.forEach(visit);
      out.push(f);
    };
    visit(file);
    return out;
  }

  private addFile(file: DescFile): void {
    if (this.files.has(file.proto.name)) return;
    this.files.set(file.proto.name, file);
    file.dependencies.forEach((d) => this.addFile(d));
    file.messages.forEach((m) => this.addMessage(m));
    file.enums.forEach((e) => this.addEnum(e));
    for (const s of file.services) {
      this.symbols.set(s.typeName, file);
      for (const m of s.methods) this.symbols.set(`${s.typeName}.${m.name}`, file);
    }
    for (const x of file.extensions) this.symbols.set(x.typeName, file);
  }

  private addMessage(m: DescMessage): void {
    this.symbols.set(m.typeName, m.file);
    for (const f of m.fields) this.symbols.set(`${m.typeName}.${f.name}`, m.file);
    m.nestedMessages.forEach((n) => this.addMessage(n));
    m.nestedEnums.forEach((e) => this.addEnum(e));
  }

  private addEnum(e: DescEnum): void {
    this.symbols.set(e.typeName, e.file);
  }
}

/**
 * gRPC server reflection, v1 and v1alpha (buf curl asks for v1, older grpcurl
 * for v1alpha), built on the generated descriptors. The two versions are the
 * same messages under two package names, so v1alpha is served by passing its
 * bytes through the v1 implementation.
 */
export function registerReflection(router: ConnectRouter, services: readonly DescService[]): void {
  const index = new DescriptorIndex([...services, Health, ReflectionV1, ReflectionV1alpha]);

  const answer = (req: ServerReflectionRequest): ServerReflectionResponse =>
    create(ResponseV1, { validHost: req.host, originalRequest: req, messageResponse: respond(index, req) });

  router.service(ReflectionV1, {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) yield answer(req);
    },
  });
  router.service(ReflectionV1alpha, {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) {
        const res = answer(fromBinary(RequestV1, toBinary(RequestV1alpha, req)));
        yield fromBinary(ResponseV1alpha, toBinary(ResponseV1, res));
      }
    },
  });
}

function respond(index: DescriptorIndex, req: ServerReflectionRequest): ResponseKind {
  const files = (file: DescFile | undefined, what: string): ResponseKind =>
    file
      ? {
          case: "fileDescriptorResponse",
          value: {
            fileDescriptorProto: index.withDependencies(file).map((f) => toBinary(FileDescriptorProtoSchema, f.proto)),
          },
        }
      : notFound(what);
  const r = req.messageRequest;
  switch (r.case) {
    case "listServices":
      return { case: "listServicesResponse", value: { service: index.services.map((name) => ({ name })) } };
    case "fileByFilename":
      return files(index.files.get(r.value), `file "${r.value}"`);
    case "fileContainingSymbol":
      return files(index.symbols.get(r.value), `symbol "${r.value}"`);
    case "fileContainingExtension":
      // The contract defines no extensions.
      return notFound(`extension ${r.value.extensionNumber} of "${r.value.containingType}"`);
    case "allExtensionNumbersOfType":
      return index.symbols.has(r.value)
        ? { case: "allExtensionNumbersResponse", value: { baseTypeName: r.value, extensionNumber: [] } }
        : notFound(`type "${r.value}"`);
    case undefined:
      return {
        case: "errorResponse",
        value: { errorCode: Code.InvalidArgument, errorMessage: "empty reflection request" },
      };
  }
}

function notFound(what: string): ResponseKind {
  return { case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage: `${what} not found` } };
}
