import { describe, expect, it } from "vitest";
import { createLogger } from "../common/logger.js";
import { IllegalTransitionError, ModeMachine, type ModeEffects } from "./agent-mode.js";

function machine() {
  const calls: string[] = [];
  const effects: ModeEffects = {
    leaveTunnel: (id, reason) => calls.push(`leave ${id}: ${reason}`),
    enterTunnel: (id) => calls.push(`enter ${id}`),
    disconnected: (reason) => calls.push(`disconnected: ${reason}`),
  };
  return { m: new ModeMachine(effects, createLogger("test", "silent")), calls };
}

describe("ModeMachine", () => {
  it("moves heartbeat <-> tunnel on one stream, entering and leaving the tunnel once each", () => {
    const { m, calls } = machine();
    m.transition({ type: "connecting", attempt: 1 });
    m.transition({ type: "heartbeat" });
    m.transition({ type: "tunnel", sessionId: "s1" });
    m.transition({ type: "heartbeat" }, "closed by technician");
    expect(m.mode).toEqual({ type: "heartbeat" });
    expect(calls).toEqual(["enter s1", "leave s1: closed by technician"]);
  });

  it("closes the tunnel and stops heartbeats when the stream drops in tunnel mode", () => {
    const { m, calls } = machine();
    m.transition({ type: "connecting", attempt: 1 });
    m.transition({ type: "heartbeat" });
    m.transition({ type: "tunnel", sessionId: "s1" });
    m.transition({ type: "backoff", delayMs: 10, reason: "stream reset" }, "stream reset");
    expect(calls).toEqual(["enter s1", "leave s1: stream reset", "disconnected: stream reset"]);
    m.transition({ type: "connecting", attempt: 2 });
  });

  it.each([
    ["idle", "tunnel"],
    ["connecting", "tunnel"],
    ["backoff", "heartbeat"],
    ["heartbeat", "connecting"],
  ] as const)("refuses %s -> %s", (from, to) => {
    const { m } = machine();
    const path = {
      idle: [],
      connecting: ["connecting"],
      backoff: ["connecting", "backoff"],
      heartbeat: ["connecting", "heartbeat"],
    }[from];
    for (const step of path)
      m.transition(
        step === "connecting"
          ? { type: "connecting", attempt: 1 }
          : step === "backoff"
            ? { type: "backoff", delayMs: 1, reason: "x" }
            : { type: "heartbeat" },
      );
    const target =
      to === "tunnel"
        ? { type: "tunnel" as const, sessionId: "s" }
        : to === "heartbeat"
          ? { type: "heartbeat" as const }
          : { type: "connecting" as const, attempt: 1 };
    expect(() => m.transition(target)).toThrow(IllegalTransitionError);
    expect(m.mode.type).toBe(from);
  });

  it("goes nowhere once stopped", () => {
    const { m } = machine();
    m.transition({ type: "stopped" });
    expect(() => m.transition({ type: "connecting", attempt: 1 })).toThrow(/stopped -> connecting/);
  });
});
