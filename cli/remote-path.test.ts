import { describe, expect, it } from "vitest";
import { ExitCode } from "./cli-error.js";
import { absoluteRemotePath, parseRemotePath } from "./remote-path.js";

describe("remote paths as scp reads them", () => {
  const linux = { hostname: "web-01", homeDirectory: "/home/ops" };

  it("takes AGENT:, AGENT:relative and AGENT:/absolute, and leaves drive letters and local paths alone", () => {
    expect(parseRemotePath("web-01:")).toEqual({ agent: "web-01", path: "" });
    expect(parseRemotePath("web-01:notes.txt")).toEqual({ agent: "web-01", path: "notes.txt" });
    expect(parseRemotePath("web-01:/etc/hosts")).toEqual({ agent: "web-01", path: "/etc/hosts" });
    expect(parseRemotePath("C:\\temp\\x")).toBeUndefined();
    expect(parseRemotePath("./a:b")).toBeUndefined();
  });

  it("resolves relative paths under the agent user's home, keeping a trailing /", () => {
    expect(absoluteRemotePath("", linux)).toBe("/home/ops");
    expect(absoluteRemotePath("notes.txt", linux)).toBe("/home/ops/notes.txt");
    expect(absoluteRemotePath("logs/", linux)).toBe("/home/ops/logs/");
    expect(absoluteRemotePath("/etc/hosts", linux)).toBe("/etc/hosts");
    expect(absoluteRemotePath("notes.txt", { hostname: "win", homeDirectory: "C:\\Users\\ops" })).toBe(
      "C:\\Users\\ops\\notes.txt",
    );
  });

  it("asks for an absolute path when the agent does not report its home", () => {
    expect(() => absoluteRemotePath("notes.txt", { hostname: "old", homeDirectory: "" })).toThrow(
      expect.objectContaining({
        exitCode: ExitCode.Usage,
        message: expect.stringMatching(/agent old does not report .*write an absolute path/),
      }),
    );
  });
});
