import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HeartbeatSchema } from "../../gen/rmm/v1/agent_service_pb.js";
import type { HeldFacts } from "../services/agent-directory.js";
import { until } from "../../test/support/until.js";
import { AgentFacts, type HeldAgents } from "./agent-facts.js";
import { ClusterLink } from "./cluster-link.js";

/** The machine's NATS: every node id here is new, so no other run's subjects are heard. */
const NATS_URL = "nats://127.0.0.1:4222";
const silent = pino({ level: "silent" });

/** A node's registry holding these agents. */
function holding(facts: Record<string, HeldFacts>): HeldAgents {
  return { get: (id) => (facts[id] ? { agentId: id, ...facts[id] } : undefined) };
}

describe("asking other nodes what their agents' streams told them", () => {
  const links: ClusterLink[] = [];
  /** A node's link to NATS; `withFacts` makes its AgentFacts before the link starts, as a node does. */
  const up = async (withFacts?: (link: ClusterLink) => AgentFacts) => {
    const link = new ClusterLink({ servers: NATS_URL }, silent);
    links.push(link);
    const facts = withFacts?.(link);
    link.start();
    await until(() => link.state === "up", "the link to NATS");
    return { link, facts };
  };
  let asker: AgentFacts;
  const held = randomUUID();
  const nodeB = `b-${randomUUID()}`;
  const many = Array.from({ length: 250 }, () => randomUUID());

  beforeAll(async () => {
    asker = (await up((link) => new AgentFacts(link, holding({}), `a-${randomUUID()}`, silent))).facts!;
    const facts: Record<string, HeldFacts> = {
      [held]: {
        homeDirectory: "/home/ops",
        lastMessageAt: 1_000,
        health: create(HeartbeatSchema, { loadAverage: [0.5, 0.25, 0.125] }),
        healthAt: 2_000,
      },
    };
    for (const id of many)
      facts[id] = { homeDirectory: `/home/${id}`, lastMessageAt: 1, health: undefined, healthAt: undefined };
    await up((link) => new AgentFacts(link, holding(facts), nodeB, silent));
    // The answering node subscribes once its link is up: wait until it answers.
    await until(async () => (await asker.ask(new Map([[nodeB, [held]]]))).size === 1, "node b to answer");
  });
  afterAll(async () => {
    await Promise.all(links.map((l) => l.close()));
  });

  it("returns each agent's home directory, last message and last heartbeat from the node holding it", async () => {
    const facts = await asker.ask(new Map([[nodeB, [held, randomUUID()]]]));
    expect([...facts.keys()]).toEqual([held]);
    const f = facts.get(held)!;
    expect(f).toMatchObject({ homeDirectory: "/home/ops", lastMessageAt: 1_000, healthAt: 2_000 });
    expect(f.health?.loadAverage).toEqual([0.5, 0.25, 0.125]);
  });

  it("asks for a long page in parts and gets every agent back", async () => {
    const facts = await asker.ask(new Map([[nodeB, many]]));
    expect(facts.size).toBe(many.length);
    expect(facts.get(many[249]!)?.homeDirectory).toBe(`/home/${many[249]}`);
  });

  it("leaves out the agents of a node that does not answer in time, answers garbage or is gone, and keeps the rest", async () => {
    const nc = (await up()).link.connection!;
    const mute = `mute-${randomUUID()}`;
    const garbled = `garbled-${randomUUID()}`;
    let muteAsked = 0;
    nc.subscribe(`rmm.cluster.${mute}.facts`, { callback: () => void muteAsked++ });
    nc.subscribe(`rmm.cluster.${garbled}.facts`, {
      callback: (_err, msg) => void msg.respond(new TextEncoder().encode("{no")),
    });
    await nc.flush();

    const facts = await asker.ask(
      new Map([
        [nodeB, [held]],
        [mute, [randomUUID()]],
        [garbled, [randomUUID()]],
        [`gone-${randomUUID()}`, [randomUUID()]],
      ]),
    );
    expect([...facts.keys()]).toEqual([held]);
    expect(muteAsked).toBe(1);
  });

  it("answers nothing, without waiting, while this node's link is down", async () => {
    const link = new ClusterLink({ servers: NATS_URL }, silent);
    const offline = new AgentFacts(link, holding({}), `off-${randomUUID()}`, silent);
    expect((await offline.ask(new Map([[nodeB, [held]]]))).size).toBe(0);
  });
});
