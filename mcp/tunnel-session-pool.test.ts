import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { AgentSchema } from "../gen/rmm/v1/tunnel_service_pb.js";
import type { SessionScope } from "./session-scope.js";
import { TunnelSessionPool } from "./tunnel-session-pool.js";

/** A scope that holds numbered sessions and records when it starts and stops holding, as the real one does. */
function recordingScope(): { scope: SessionScope; events: string[] } {
  const events: string[] = [];
  let n = 0;
  const scope: SessionScope = async (agent, work) => {
    const id = `${agent.id}-s${++n}`;
    events.push(`hold ${id}`);
    try {
      return await work(id);
    } finally {
      events.push(`let go ${id}`);
    }
  };
  return { scope, events };
}

const agent = create(AgentSchema, { id: "a1", online: true });
const tick = () => new Promise((r) => setImmediate(r));

describe("the tunnel sessions of one MCP session", () => {
  it("shares one held session per agent among the calls using it at once", async () => {
    const { scope, events } = recordingScope();
    const pool = new TunnelSessionPool(scope);
    let finish!: () => void;
    const slow = pool.use(agent, (s) => new Promise<string>((r) => (finish = () => r(s))));
    await tick();
    const quick = await pool.use(agent, async (s) => s);
    expect(quick).toBe("a1-s1");
    expect(events).toEqual(["hold a1-s1"]);
    finish();
    expect(await slow).toBe("a1-s1");
    await tick();
    expect(events).toEqual(["hold a1-s1", "let go a1-s1"]);
  });

  it("lets go of a session the moment nothing uses it, and holds afresh for the next call", async () => {
    const { scope, events } = recordingScope();
    const pool = new TunnelSessionPool(scope);
    await pool.use(agent, async () => undefined);
    await tick();
    expect(events).toEqual(["hold a1-s1", "let go a1-s1"]);
    expect(await pool.use(agent, async (s) => s)).toBe("a1-s2");
  });

  it("keeps holding while a running command's lease does, and lets go when the MCP session ends", async () => {
    const { scope, events } = recordingScope();
    const pool = new TunnelSessionPool(scope);
    const lease = await pool.acquire(agent);
    await pool.use(agent, async () => undefined);
    await tick();
    expect(events).toEqual(["hold a1-s1"]);
    await pool.close();
    expect(events).toEqual(["hold a1-s1", "let go a1-s1"]);
    lease.release();
    await expect(pool.acquire(agent)).rejects.toThrow(/closing/);
  });

  it("fails the callers when the scope cannot open a session, and tries afresh next time", async () => {
    let fail = true;
    const pool = new TunnelSessionPool(async (a, work) => {
      if (fail) throw new Error(`agent ${a.id} is offline`);
      return work("ok");
    });
    await expect(pool.use(agent, async (s) => s)).rejects.toThrow("agent a1 is offline");
    fail = false;
    expect(await pool.use(agent, async (s) => s)).toBe("ok");
    await pool.close();
  });
});
