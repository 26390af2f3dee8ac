import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import { PrivateNats } from "../../test/support/private-nats.js";
import { until } from "../../test/support/until.js";
import { ClusterLink, type LinkState } from "./cluster-link.js";

describe("the cluster link to a real NATS server", () => {
  let nats: PrivateNats;
  beforeAll(async () => {
    nats = await PrivateNats.start();
  });
  afterAll(async () => {
    await nats?.kill();
  });

  it("goes connecting -> up, down while NATS is gone, up again when it is back without a restart, then closed", async () => {
    const moves: string[] = [];
    const log = pino({ level: "info" }, { write: (line: string) => void moves.push(JSON.parse(line).msg) });
    const link = new ClusterLink({ servers: nats.url }, log);
    const seen: LinkState[] = [];
    link.onUp(() => seen.push("up"));
    link.onDown(() => seen.push("down"));
    expect(link.connection).toBeUndefined();
    link.start();
    await until(() => link.state === "up", "the first connect");
    expect(link.connection).toBeDefined();

    await nats.kill();
    await until(() => link.state === "down", "the link to notice NATS is gone", 10_000);
    expect(link.connection).toBeUndefined();
    await nats.restart();
    await until(() => link.state === "up", "the link to reconnect", 15_000);

    await link.close();
    expect(link.state).toBe("closed");
    // Closing an up link ends its streams too: down listeners hear of it.
    expect(seen).toEqual(["up", "down", "up", "down"]);
    expect(moves.filter((m) => m.startsWith("cluster link"))).toEqual([
      "cluster link connecting -> up",
      "cluster link up -> down",
      "cluster link down -> up",
      "cluster link up -> closed",
    ]);
  });

  it("starts with NATS unreachable and connects once it answers", async () => {
    await nats.kill();
    const link = new ClusterLink({ servers: nats.url }, pino({ level: "silent" }));
    link.start();
    expect(link.state).toBe("connecting");
    await nats.restart();
    await until(() => link.state === "up", "the first connect once NATS answers", 15_000);
    await link.close();
  });
});
