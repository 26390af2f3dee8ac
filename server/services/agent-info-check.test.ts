import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { AgentInfoSchema } from "../../gen/rmm/v1/agent_service_pb.js";
import { checkHomeDirectory, MAX_HOME_DIRECTORY_CHARS } from "./agent-info-check.js";

describe("the home directory an agent reports in hello", () => {
  const info = (homeDirectory: string) => create(AgentInfoSchema, { hostname: "h", homeDirectory });

  it("is kept when absolute, POSIX or Windows, and may be left out", () => {
    expect(checkHomeDirectory(info("/home/ops"), "hello.info")).toBe("/home/ops");
    expect(checkHomeDirectory(info("C:\\Users\\ops"), "hello.info")).toBe("C:\\Users\\ops");
    expect(checkHomeDirectory(info(""), "hello.info")).toBe("");
    expect(checkHomeDirectory(undefined, "hello.info")).toBe("");
  });

  it("is InvalidArgument when relative or too long, without echoing it", () => {
    const refuse = (home: string, message: RegExp) => {
      let err: unknown;
      try {
        checkHomeDirectory(info(home), "hello.info");
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.InvalidArgument);
      expect((err as ConnectError).rawMessage).toMatch(message);
      expect((err as ConnectError).rawMessage).not.toContain(home.slice(0, 20));
    };
    refuse("secret-relative/home", /^hello\.info\.home_directory is not an absolute path$/);
    refuse(`/${"x".repeat(MAX_HOME_DIRECTORY_CHARS)}`, /is 1025 characters; at most 1024/);
  });
});
