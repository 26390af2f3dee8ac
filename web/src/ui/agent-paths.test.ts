import { describe, expect, it } from "vitest";
import { agentPaths } from "./agent-paths.js";

describe("agent paths in the console", () => {
  it("joins and climbs posix paths, starting in the home", () => {
    const p = agentPaths({ os: "linux x64", homeDirectory: "/home/ops" });
    expect(p.start).toBe("/home/ops");
    expect(p.join("/srv/", "a.txt")).toBe("/srv/a.txt");
    expect(p.join("/", "etc")).toBe("/etc");
    expect(p.parent("/srv/www/")).toBe("/srv");
    expect(p.parent("/srv")).toBe("/");
    expect(p.isRoot("/")).toBe(true);
    expect(agentPaths({ os: "linux x64", homeDirectory: "" }).start).toBe("/");
  });

  it("uses Windows rules for a Windows agent: drive roots, either separator, \\ when joining", () => {
    const p = agentPaths({ os: "win32 x64", homeDirectory: "C:\\Users\\ops" });
    expect(p.start).toBe("C:\\Users\\ops");
    expect(p.join("C:\\Users\\ops", "notes.txt")).toBe("C:\\Users\\ops\\notes.txt");
    expect(p.join("C:\\", "temp")).toBe("C:\\temp");
    expect(p.parent("C:\\Users\\ops")).toBe("C:\\Users");
    expect(p.parent("C:/Users")).toBe("C:\\");
    expect(p.parent("C:\\")).toBe("C:\\");
    expect(p.isRoot("D:/")).toBe(true);
    expect(p.isRoot("C:\\Users")).toBe(false);
    expect(agentPaths({ os: "", homeDirectory: "D:\\home" }).join("D:\\home", "x")).toBe("D:\\home\\x");
  });
});
