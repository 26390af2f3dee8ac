import { describe, expect, it } from "vitest";
import { createLogger } from "../common/logger.js";
import {
  IllegalTransitionError,
  LEGAL,
  ModeMachine,
  type AgentMode,
  type ModeEffects,
  type ModeName,
} from "./agent-mode.js";

function machine() {
  const calls: string[] = [];
  const effects: ModeEffects = {
    connected: () => calls.push("connected"),
    enterSession: (id) => calls.push(`enter ${id}`),
    leaveSession: (id, reason) => calls.push(`leave ${id}: ${reason}`),
    disconnected: (reason) => calls.push(`disconnected: ${reason}`),
  };
  return { m: new ModeMachine(effects, createLogger("test", "silent")), calls };
}

/** A sample of each mode, and a legal path from idle to it. */
const SAMPLE: Record<ModeName, AgentMode> = {
  idle: { type: "idle" },
  connecting: { type: "connecting", attempt: 1 },
  heartbeat: { type: "heartbeat" },
  tunnel: { type: "tunnel", sessions: ["s1"] },
  backoff: { type: "backoff", delayMs: 1, reason: "x" },
  stopped: { type: "stopped" },
};
const PATH: Record<ModeName, ModeName[]> = {
  idle: [],
  connecting: ["connecting"],
  heartbeat: ["connecting", "heartbeat"],
  tunnel: ["connecting", "heartbeat", "tunnel"],
  backoff: ["connecting", "backoff"],
  stopped: ["stopped"],
};
const MODES = Object.keys(SAMPLE) as ModeName[];

describe("ModeMachine", () => {
  describe.each(MODES)("from %s", (from) => {
    it.each(MODES)(`to %s is allowed exactly when the LEGAL table says so`, (to) => {
      const { m } = machine();
      for (const step of PATH[from]) m.transition(SAMPLE[step]);
      expect(m.mode.type).toBe(from);
      const next: AgentMode = to === "tunnel" ? { type: "tunnel", sessions: ["s2"] } : SAMPLE[to];
      if (LEGAL[from].includes(to)) {
        m.transition(next);
        expect(m.mode).toEqual(next);
      } else {
        expect(() => m.transition(next)).toThrow(IllegalTransitionError);
        expect(m.mode.type).toBe(from);
      }
    });
  });

  it("starts heartbeats on entering a connected mode and stops them on leaving it, as effects of the transition", () => {
    const { m, calls } = machine();
    m.transition({ type: "connecting", attempt: 1 });
    m.transition({ type: "heartbeat" }, "acked");
    m.transition({ type: "backoff", delayMs: 10, reason: "reset" }, "reset");
    expect(calls).toEqual(["connected", "disconnected: reset"]);
  });

  it("serves several sessions at once: heartbeat while none, tunnel while any, each entered and left once", () => {
    const { m, calls } = machine();
    m.transition({ type: "connecting", attempt: 1 });
    m.transition({ type: "heartbeat" });
    expect(m.addSession("a", "alice")).toBe(true);
    expect(m.addSession("b", "bob")).toBe(true);
    expect(m.addSession("a", "again")).toBe(false);
    expect(m.mode).toEqual({ type: "tunnel", sessions: ["a", "b"] });
    expect(m.removeSession("a", "closed by server")).toBe(true);
    expect(m.mode).toEqual({ type: "tunnel", sessions: ["b"] });
    expect(m.removeSession("a", "twice")).toBe(false);
    expect(m.removeSession("b", "closed by server")).toBe(true);
    expect(m.mode).toEqual({ type: "heartbeat" });
    expect(calls).toEqual([
      "connected",
      "enter a",
      "enter b",
      "leave a: closed by server",
      "leave b: closed by server",
    ]);
  });

  it("closes every session and stops heartbeats when the stream drops in tunnel mode", () => {
    const { m, calls } = machine();
    m.transition({ type: "connecting", attempt: 1 });
    m.transition({ type: "heartbeat" });
    m.addSession("a", "x");
    m.addSession("b", "y");
    calls.length = 0;
    m.transition({ type: "backoff", delayMs: 10, reason: "stream reset" }, "stream reset");
    expect(calls).toEqual(["leave a: stream reset", "leave b: stream reset", "disconnected: stream reset"]);
    expect(m.sessions).toEqual([]);
  });

  it("refuses tunnel mode with no session or a session twice, and sessions while not connected", () => {
    const { m } = machine();
    expect(m.addSession("a", "x")).toBe(false);
    m.transition({ type: "connecting", attempt: 1 });
    expect(m.addSession("a", "x")).toBe(false);
    m.transition({ type: "heartbeat" });
    expect(() => m.transition({ type: "tunnel", sessions: [] })).toThrow(/at least one/);
    expect(() => m.transition({ type: "tunnel", sessions: ["a", "a"] })).toThrow(/distinct/);
    expect(m.mode).toEqual({ type: "heartbeat" });
  });

  it("goes nowhere once stopped", () => {
    const { m } = machine();
    m.transition({ type: "stopped" });
    expect(() => m.transition({ type: "connecting", attempt: 1 })).toThrow(/stopped -> connecting/);
  });
});
