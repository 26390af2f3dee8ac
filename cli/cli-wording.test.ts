import { describe, expect, it } from "vitest";
import { FileAccess } from "../server/policy/file-access.js";
import { cliWording } from "./cli-wording.js";

describe("the CLI's wording of server messages", () => {
  it("names rmm commands for the policy's file refusals, as the server words them", () => {
    const write = new FileAccess({ files: "read" }).refusal("tech", "write", "/srv/x")!.reason;
    expect(cliWording(write)).toBe(
      'role tech may not write files (rmm cp to an agent): the policy sets roles.tech.files to "read"',
    );
    const read = new FileAccess({ files: "none" }).refusal("tech", "read", "/srv/x")!.reason;
    expect(cliWording(read)).toMatch(/^role tech may not read files \(rmm ls, rmm stat, rmm cp from an agent\): /);
  });

  it("names the flag for a missing parent and a relative path, whichever field the server named", () => {
    expect(cliWording("directory /a does not exist: create it or set create_parents")).toBe(
      "directory /a does not exist: create it, or pass -p (--parents) to rmm cp",
    );
    expect(cliWording('directory.path "rel/x" is not absolute: give an absolute path on the agent')).toBe(
      "rel/x is not absolute: write AGENT:/absolute/path",
    );
  });
});
