import { readFileSync } from "node:fs";
import { join } from "node:path";
import { create, toBinary, type DescField, type DescMessage, type DescMethod } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CUT_TEXT_MAX } from "../../common/cut-text.js";
import { AgentService } from "../../gen/rmm/v1/agent_service_pb.js";
import { TunnelService } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { startFileSession, type FileSession } from "../support/file-session.js";
import { grpcEnvelope, rawGrpcCall } from "../support/raw-grpc-call.js";
import { DIALECTS } from "../../testkit/test-databases.js";

const MEGABYTE = "x".repeat(1 << 20);

type Json = { [key: string]: unknown };

/**
 * A message in JSON-like init form with the ids a call needs to get past its
 * first checks (`base`), and `big` in the one string field at `target` (a
 * dotted path of field names), or in every string field when `target` is "*".
 * Oneofs take their `choice`-th member, so every member is reached across choices.
 */
function fill(schema: DescMessage, base: Record<string, string>, target: string, choice: number, prefix = ""): Json {
  const out: Json = {};
  const fieldValue = (field: DescField, path: string): unknown => {
    const hit = target === "*" || target === path;
    if (field.fieldKind === "scalar" && field.scalar === 9 /* string */)
      return hit ? MEGABYTE : (base[field.name] ?? undefined);
    if (field.fieldKind === "list" && field.listKind === "scalar" && field.scalar === 9)
      return hit ? [MEGABYTE] : undefined;
    if (field.fieldKind === "map" && field.mapKey === 9) return hit ? { [MEGABYTE]: MEGABYTE } : undefined;
    if (field.fieldKind === "message" && field.message.typeName.startsWith("rmm."))
      return fill(field.message, base, target, choice, `${path}.`);
    if (field.fieldKind === "list" && field.listKind === "message" && field.message.typeName.startsWith("rmm."))
      return [fill(field.message, base, target, choice, `${path}.`)];
    return undefined;
  };
  for (const field of schema.fields) {
    if (field.oneof) continue;
    const value = fieldValue(field, `${prefix}${field.name}`);
    if (value !== undefined) out[field.localName] = value;
  }
  for (const oneof of schema.oneofs) {
    const member = oneof.fields[choice % oneof.fields.length]!;
    const value = fieldValue(member, `${prefix}${member.name}`) ?? (member.fieldKind === "message" ? {} : undefined);
    if (value !== undefined) out[oneof.localName] = { case: member.localName, value };
  }
  return out;
}

/** Every dotted path to a string field (lists and maps included), oneof members too. */
function stringPaths(schema: DescMessage, prefix = "", seen = new Set<string>()): string[] {
  if (seen.has(schema.typeName)) return [];
  const inner = new Set(seen).add(schema.typeName);
  return schema.fields.flatMap((field) => {
    const path = `${prefix}${field.name}`;
    if (field.fieldKind === "scalar" || field.fieldKind === "list" || field.fieldKind === "map") {
      const kind = field.fieldKind === "map" ? field.mapKey : field.fieldKind === "list" ? field.scalar : field.scalar;
      if (kind === 9) return [path];
      if (field.fieldKind === "list" && field.listKind === "message" && field.message.typeName.startsWith("rmm."))
        return stringPaths(field.message, `${path}.`, inner);
      return [];
    }
    if (field.fieldKind === "message" && field.message.typeName.startsWith("rmm."))
      return stringPaths(field.message, `${path}.`, inner);
    return [];
  });
}

function maxOneofMembers(schema: DescMessage, seen = new Set<string>()): number {
  if (seen.has(schema.typeName)) return 1;
  seen.add(schema.typeName);
  let most = Math.max(1, ...schema.oneofs.map((o) => o.fields.length));
  for (const field of schema.fields)
    if (
      (field.fieldKind === "message" || (field.fieldKind === "list" && field.listKind === "message")) &&
      field.message
    )
      most = Math.max(most, maxOneofMembers(field.message, seen));
  return most;
}

describe.each(DIALECTS)("1 MB in every string field of every RPC on %s", (dialect) => {
  let fs: FileSession;
  let technicianToken: string;
  let agentCredential: string;
  let base: Record<string, string>;

  beforeAll(async () => {
    fs = await startFileSession(dialect, { prefix: "rmm-oversized-" });
    technicianToken = await fs.rig.mintToken("alice", "admin");
    agentCredential = (
      JSON.parse(readFileSync(join(fs.rig.dir, "agent", "state.json"), "utf8")) as { credential: string }
    ).credential;
    base = { session_id: fs.sessionId, agent_id: fs.rig.agentId, path: join(fs.root, "f.txt") };
  }, 60_000);
  afterAll(async () => {
    await fs?.stop();
  });

  const methods: DescMethod[] = [...AgentService.methods, ...TunnelService.methods];
  it.each(methods.map((m) => [`${m.parent.name}/${m.name}`, m] as const))(
    "%s answers with a status whose message is cut",
    async (_name, method) => {
      const targets = ["*", ...stringPaths(method.input)];
      const choices = maxOneofMembers(method.input);
      for (const target of targets) {
        for (let choice = 0; choice < choices; choice++) {
          const message = create(method.input, fill(method.input, base, target, choice) as never);
          const answer = await rawGrpcCall(fs.rig.url, {
            path: `/${method.parent.typeName}/${method.name}`,
            token: method.parent.typeName === AgentService.typeName ? agentCredential : technicianToken,
            body: grpcEnvelope(toBinary(method.input, message)),
          });
          const what = `${target} (choice ${choice}): ${Code[answer.grpcStatus]} ${answer.grpcMessage.slice(0, 200)}`;
          expect(answer.status, what).toBe(200);
          expect(Number.isInteger(answer.grpcStatus), what).toBe(true);
          expect([Code.Internal, Code.Unknown], what).not.toContain(answer.grpcStatus);
          expect(answer.grpcMessage.length, what).toBeLessThanOrEqual(CUT_TEXT_MAX);
        }
      }
    },
    120_000,
  );
});
