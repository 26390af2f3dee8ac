import { describe, expect, it } from "vitest";
import * as sdk from "./index.js";

describe("the technician SDK's public surface", () => {
  it("exports the documented names and nothing else", () => {
    expect(Object.keys(sdk).sort()).toEqual(
      [
        "ChannelClient",
        "ChannelType",
        "CloseReason",
        "MAX_CHUNK_BYTES",
        "RECEIVE_WINDOW_BYTES",
        "SessionState",
        "TunnelService",
        "createTechnicianClient",
        "downloadFile",
        "uploadFile",
      ].sort(),
    );
  });

  it("is what the package exports as rmm-tunnel/client once built", async () => {
    // A variable, so the type-check does not need dist/ (npm test builds before vitest runs).
    const specifier = "rmm-tunnel/client";
    const built = (await import(specifier)) as Record<string, unknown>;
    expect(Object.keys(built).sort()).toEqual(Object.keys(sdk).sort());
  });
});
