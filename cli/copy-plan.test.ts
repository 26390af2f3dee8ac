import { describe, expect, it } from "vitest";
import { ExitCode } from "./cli-error.js";
import { copyArgs } from "./copy-plan.js";

describe("reading rmm cp's arguments as scp does", () => {
  it("takes several local sources up to one agent, and several remote sources of one agent down", () => {
    expect(copyArgs(["a", "b", "web-01:/srv/"])).toEqual({
      direction: "upload",
      agent: "web-01",
      sources: ["a", "b"],
      destination: "/srv/",
    });
    expect(copyArgs(["web-01:/var/log/*.log", "web-01:notes.txt", "."])).toEqual({
      direction: "download",
      agent: "web-01",
      sources: ["/var/log/*.log", "notes.txt"],
      destination: ".",
    });
    expect(copyArgs(["./f", "web-01:"])).toMatchObject({ direction: "upload", destination: "" });
  });

  it("refuses mixed sides, two agents, two remote ends and no agent, as usage errors", () => {
    const refused = (args: string[], message: RegExp) =>
      expect(() => copyArgs(args)).toThrow(
        expect.objectContaining({ exitCode: ExitCode.Usage, message: expect.stringMatching(message) }),
      );
    refused(["web-01:/a", "./b", "./dir"], /some sources are local and some on an agent/);
    refused(["web-01:/a", "db-01:/b", "./dir"], /the sources name 2 agents \(web-01, db-01\)/);
    refused(["web-01:/a", "db-01:/b"], /both sides name an agent/);
    refused(["./a", "./b"], /neither side names an agent/);
    refused(["./a"], /give a source and a destination/);
  });
});
