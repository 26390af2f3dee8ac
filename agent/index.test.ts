import { describe, expect, it } from "vitest";
import * as agent from "./index.js";

describe("the agent's public surface", () => {
  it("exports the documented names and nothing else", () => {
    expect(Object.keys(agent).sort()).toEqual(
      [
        "Agent",
        "Backoff",
        "DEFAULT_CHANNELS",
        "DISABLEABLE_CHANNELS",
        "FileRoots",
        "channelSet",
        "createGrpcTransport",
        "defaultStatePath",
        "fileChannel",
        "readState",
        "writeState",
      ].sort(),
    );
  });

  it("is what the package exports as rmm-tunnel/agent once built, without running the rmm-agent command", async () => {
    // A variable, so the type-check does not need dist/ (npm test builds before vitest runs).
    const specifier = "rmm-tunnel/agent";
    const built = (await import(specifier)) as Record<string, unknown>;
    expect(Object.keys(built).sort()).toEqual(Object.keys(agent).sort());
  });
});
