import { describe, expect, it } from "vitest";
import * as agent from "../agent/index.js";
import * as client from "../client/index.js";

// What users may import, name by name: a change to either list is a deliberate change of the public API.
describe.each([
  {
    specifier: "rmm-tunnel/client",
    surface: client as Record<string, unknown>,
    names: [
      "ChannelClient",
      "ChannelType",
      "CloseReason",
      "MAX_CHUNK_BYTES",
      "RECEIVE_WINDOW_BYTES",
      "SessionState",
      "TunnelService",
      "createTechnicianClient",
      "downloadFile",
      "openRecording",
      "uploadFile",
    ],
  },
  {
    specifier: "rmm-tunnel/agent",
    surface: agent as Record<string, unknown>,
    names: [
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
    ],
  },
])("the public surface $specifier", ({ specifier, surface, names }) => {
  it("exports the documented names and nothing else", () => {
    expect(Object.keys(surface).sort()).toEqual([...names].sort());
  });

  it("is what the built package exports under that name (loading the agent's runs no command)", async () => {
    // Imported through a variable, so the type-check does not need dist/ (npm test builds before vitest runs).
    const built = (await import(specifier)) as Record<string, unknown>;
    expect(Object.keys(built).sort()).toEqual(Object.keys(surface).sort());
  });
});
