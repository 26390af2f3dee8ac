import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ChannelType } from "../../gen/rmm/v1/frame_pb.js";
import {
  ExecRequestSchema,
  OpenChannelRequestSchema,
  OpenChannelResponseSchema,
  UploadRequestSchema,
} from "../../gen/rmm/v1/tunnel_service_pb.js";
import { actionFields } from "./technician-action.js";

describe("what a technician call's log line says it did", () => {
  it("names an exec channel's argv and the exit status its close carries", () => {
    const open = create(OpenChannelRequestSchema, {
      kind: {
        case: "open",
        value: { sessionId: "s1", type: ChannelType.EXEC, params: { case: "exec", value: { argv: ["uname", "-a"] } } },
      },
    });
    expect(actionFields(open)).toEqual({ sessionId: "s1", channelType: "exec", argv: ["uname", "-a"] });
    const oneShot = create(OpenChannelRequestSchema, {
      kind: {
        case: "open",
        value: { agentId: "a1", type: ChannelType.EXEC, params: { case: "exec", value: { argv: ["true"] } } },
      },
    });
    expect(actionFields(oneShot)).toEqual({ sessionId: "", agentId: "a1", channelType: "exec", argv: ["true"] });
    const close = create(OpenChannelResponseSchema, {
      kind: { case: "close", value: { code: 0, exit: { exitCode: 2 } } },
    });
    expect(actionFields(close)).toEqual({ exitCode: 2 });
    expect(
      actionFields(create(OpenChannelResponseSchema, { kind: { case: "data", value: { data: new Uint8Array(3) } } })),
    ).toEqual({});
  });

  it("names a shell command and an upload's target path, never data", () => {
    const exec = create(ExecRequestSchema, {
      sessionId: "s2",
      params: { shellCommand: { shell: "/bin/sh", commandLine: "df -h" } },
      stdin: new TextEncoder().encode("secret input"),
    });
    expect(actionFields(exec)).toEqual({ sessionId: "s2", shell: "/bin/sh", commandLine: "df -h" });
    const oneShot = create(ExecRequestSchema, { agentId: "a2", params: { argv: ["true"] } });
    expect(actionFields(oneShot)).toEqual({ sessionId: "", agentId: "a2", argv: ["true"] });
    const start = create(UploadRequestSchema, {
      kind: { case: "start", value: { sessionId: "s3", target: { path: "/srv/x" } } },
    });
    expect(actionFields(start)).toEqual({ sessionId: "s3", path: "/srv/x" });
    expect(actionFields(create(UploadRequestSchema, { kind: { case: "chunk", value: new Uint8Array(8) } }))).toEqual(
      {},
    );
  });

  it("bounds what it logs: 64 arguments of 512 characters at most", () => {
    const argv = Array.from({ length: 70 }, (_, i) => (i === 0 ? "x".repeat(600) : `a${i}`));
    const fields = actionFields(create(ExecRequestSchema, { sessionId: "s", params: { argv } }));
    expect(fields.argv).toHaveLength(65);
    expect(fields.argv?.[0]).toBe(`${"x".repeat(512)}...`);
    expect(fields.argv?.[64]).toBe("... 6 more");
  });
});
