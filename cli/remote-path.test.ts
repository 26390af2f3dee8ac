import { posix, win32 } from "node:path";
import { describe, expect, it } from "vitest";
import { ExitCode } from "./cli-error.js";
import {
  absoluteRemotePath,
  endsWithSeparator,
  parseRemotePath,
  remotePathStyle,
  remoteSegments,
} from "./remote-path.js";
import { isRemoteGlob } from "./remote-tree.js";

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

  it("follows the agent's system, from the OS its hello reported or its home, not the technician's", () => {
    expect(remotePathStyle({ os: "linux x64", homeDirectory: "/home/ops" })).toBe(posix);
    expect(remotePathStyle({ os: "win32 x64", homeDirectory: "" })).toBe(win32);
    expect(remotePathStyle({ os: "", homeDirectory: "D:\\Users\\ops" })).toBe(win32);
    const windows = { hostname: "win", os: "win32 x64", homeDirectory: "C:\\Users\\ops" };
    expect(absoluteRemotePath("logs\\", windows)).toBe("C:\\Users\\ops\\logs\\");
    expect(absoluteRemotePath("logs/", windows)).toBe("C:\\Users\\ops\\logs\\");
    expect(endsWithSeparator(win32, "C:\\srv\\")).toBe(true);
    expect(endsWithSeparator(posix, "/srv\\")).toBe(false);
  });

  it("splits a glob into its root and segments on the agent's separators, a backslash separating only on Windows", () => {
    expect(remoteSegments(posix, "/var/log/*.log")).toEqual({ root: "/", segments: ["var", "log", "*.log"] });
    expect(remoteSegments(win32, "C:\\logs\\app/*.log")).toEqual({ root: "C:\\", segments: ["logs", "app", "*.log"] });
    expect(remoteSegments(win32, "C:/logs/*.log")).toEqual({ root: "C:/", segments: ["logs", "*.log"] });
    expect(isRemoteGlob("C:\\logs\\*.log", win32)).toBe(true);
    // On a posix agent \* is an escaped star: a file named "*.log".
    expect(isRemoteGlob("/logs/\\*.log", posix)).toBe(false);
    expect(isRemoteGlob("C:\\logs\\app.log", win32)).toBe(false);
  });
});
