import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ExecParamsSchema } from "../gen/rmm/v1/exec_pb.js";
import { MAX_ARGV_CHARS, MAX_WORKING_DIRECTORY_CHARS, processSpecOf } from "./process-params.js";
import { shellArgs } from "./shell-invocation.js";
import { checkWindowSize } from "./window-size.js";

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return ConnectError.from(err).code;
  }
  return undefined;
};

describe("exec parameters", () => {
  it("turn argv or a shell command line into a program and arguments", () => {
    expect(
      processSpecOf(create(ExecParamsSchema, { argv: ["ls", "-l"], timeout: { seconds: 2n, nanos: 500_000_000 } })),
    ).toMatchObject({ program: "ls", args: ["-l"], timeoutMs: 2_500 });
    expect(
      processSpecOf(create(ExecParamsSchema, { shellCommand: { shell: "/bin/bash", commandLine: "echo hi" } })),
    ).toMatchObject({ program: "/bin/bash", args: ["-c", "echo hi"] });
    expect(shellArgs("C:\\Windows\\System32\\cmd.exe", "dir")).toEqual(["/d", "/s", "/c", "dir"]);
    expect(shellArgs("pwsh", "Get-Date")).toEqual(["-NoProfile", "-NonInteractive", "-Command", "Get-Date"]);
  });

  it("refuse empty, ambiguous or malformed requests as InvalidArgument", () => {
    for (const init of [
      {},
      { argv: [""] },
      { argv: ["ls"], shellCommand: { shell: "/bin/sh", commandLine: "ls" } },
      { shellCommand: { shell: "", commandLine: "ls" } },
      { shellCommand: { shell: "/bin/sh", commandLine: "  " } },
      { argv: ["ls", "a\0b"] },
      { argv: ["ls"], environment: { "1BAD": "x" } },
      { argv: ["ls"], timeout: { seconds: -1n } },
      { argv: ["ls"], timeout: { seconds: 10n ** 9n } },
      { argv: ["echo", "x".repeat(MAX_ARGV_CHARS)] },
      { argv: ["ls"], workingDirectory: "/" + "d".repeat(MAX_WORKING_DIRECTORY_CHARS) },
      { argv: ["ls"], workingDirectory: "/tmp\0x" },
    ]) {
      expect(
        codeOf(() => processSpecOf(create(ExecParamsSchema, init))),
        JSON.stringify(init, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v)),
      ).toBe(Code.InvalidArgument);
    }
  });

  it("keep argv within 32 Ki characters and the working directory within 4096, what the audit columns hold", () => {
    expect(MAX_ARGV_CHARS).toBe(32 * 1024);
    expect(
      processSpecOf(
        create(ExecParamsSchema, {
          argv: ["echo", "x".repeat(MAX_ARGV_CHARS - 4)],
          workingDirectory: "/" + "d".repeat(MAX_WORKING_DIRECTORY_CHARS - 1),
        }),
      ).cwd,
    ).toHaveLength(MAX_WORKING_DIRECTORY_CHARS);
  });

  it("accept window sizes from 1 to 10,000 only", () => {
    expect(checkWindowSize({ columns: 1, rows: 10_000 })).toEqual({ columns: 1, rows: 10_000 });
    expect(codeOf(() => checkWindowSize({ columns: 0, rows: 24 }))).toBe(Code.InvalidArgument);
    expect(codeOf(() => checkWindowSize({ columns: 80, rows: 10_001 }))).toBe(Code.InvalidArgument);
  });
});
