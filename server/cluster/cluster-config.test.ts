import { describe, expect, it } from "vitest";
import { withoutCredentials } from "./cluster-config.js";

describe("the NATS URLs a node logs", () => {
  it("leave out user and password, and keep the rest", () => {
    expect(withoutCredentials("nats://rmm:s3cret@nats.internal:4222")).toBe("nats://nats.internal:4222");
    expect(withoutCredentials("tls://token@10.0.0.5:4222")).toBe("tls://10.0.0.5:4222");
    expect(withoutCredentials("nats://127.0.0.1:4222")).toBe("nats://127.0.0.1:4222");
  });
});
