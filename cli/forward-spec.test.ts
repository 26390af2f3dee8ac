import { describe, expect, it } from "vitest";
import { parseForwardSpec } from "./forward-spec.js";

describe("forward specs", () => {
  it("read LOCAL_PORT:HOST:PORT and LOCAL_ADDR:LOCAL_PORT:HOST:PORT, IPv6 in brackets", () => {
    expect(parseForwardSpec("8080:localhost:80")).toEqual({
      listenPort: 8080,
      target: { host: "localhost", port: 80 },
    });
    expect(parseForwardSpec("0:10.0.0.5:3389")).toEqual({ listenPort: 0, target: { host: "10.0.0.5", port: 3389 } });
    expect(parseForwardSpec("[::1]:5432:[fe80::1]:5432")).toEqual({
      listenHost: "::1",
      listenPort: 5432,
      target: { host: "fe80::1", port: 5432 },
    });
  });

  it("say what is wrong with a bad spec", () => {
    expect(() => parseForwardSpec("8080:localhost")).toThrow(/is not \[LOCAL_ADDR:\]LOCAL_PORT:HOST:PORT/);
    expect(() => parseForwardSpec("70000:localhost:80")).toThrow(
      "local port 70000 in 70000:localhost:80 is over 65535",
    );
    expect(() => parseForwardSpec("1:localhost:0")).toThrow("1:localhost:0: tcp port must be 1-65535, got 0");
  });
});
