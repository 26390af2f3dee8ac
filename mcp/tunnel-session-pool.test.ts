import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { AgentSchema } from "../gen/rmm/v1/tunnel_service_pb.js";
import type { SessionScope } from "./session-scope.js";
import { TunnelSessionPool } from "./tunnel-session-pool.js";

/** A scope that opens numbered sessions and records opens and closes, as the real ones do against the server. */
function recordingScope(): { scope: SessionScope; events: string[] } {
  const events: string[] = [];
  let n = 0;
  const scope: SessionScope = async (agent, work) => {
    const id = `${agent.id}-s${++n}`;
    events.push(`open ${id}`);
    try {
      return await work(id);
    } finally {
      events.push(`close ${id}`);
    }
  };
  return { scope, events };
}

const agent = create(AgentSchema, { id: "a1", online: true });

describe("the tunnel sessions of one MCP session", () => {
  it("shares one session per agent among calls and closes it when the MCP session ends", async () => {
    const { scope, events } = recordingScope();
    const pool = new TunnelSessionPool(scope, 60_000);
    const ids = await Promise.all([pool.use(agent, async (s) => s), pool.use(agent, async (s) => s)]);
    expect(ids).toEqual(["a1-s1", "a1-s1"]);
    const lease = await pool.acquire(agent);
    expect(lease.sessionId).toBe("a1-s1");
    lease.release();
    expect(events).toEqual(["open a1-s1"]);
    await pool.close();
    expect(events).toEqual(["open a1-s1", "close a1-s1"]);
    await expect(pool.acquire(agent)).rejects.toThrow(/closing/);
  });

  it("closes a session nobody used for the idle time, and opens a new one for the next call", async () => {
    const { scope, events } = recordingScope();
    const pool = new TunnelSessionPool(scope, 10);
    await pool.use(agent, async () => undefined);
    await new Promise<void>((resolve) => {
      const check = () => (events.includes("close a1-s1") ? resolve() : setTimeout(check, 5));
      check();
    });
    expect(await pool.use(agent, async (s) => s)).toBe("a1-s2");
    await pool.close();
  });

  it("keeps a session open while a lease holds it, idle time or not", async () => {
    const { scope, events } = recordingScope();
    const pool = new TunnelSessionPool(scope, 1);
    const lease = await pool.acquire(agent);
    await pool.use(agent, async () => undefined);
    await new Promise((r) => setImmediate(r));
    expect(events).toEqual(["open a1-s1"]);
    lease.release();
    await pool.close();
    expect(events).toEqual(["open a1-s1", "close a1-s1"]);
  });

  it("fails the callers when the scope cannot open a session, and tries afresh next time", async () => {
    let fail = true;
    const pool = new TunnelSessionPool(async (a, work) => {
      if (fail) throw new Error(`agent ${a.id} is offline`);
      return work("ok");
    }, 60_000);
    await expect(pool.use(agent, async (s) => s)).rejects.toThrow("agent a1 is offline");
    fail = false;
    expect(await pool.use(agent, async (s) => s)).toBe("ok");
    await pool.close();
  });
});
