import { describe, expect, it } from "vitest";
import { CreditOverrunError, ReceiveWindow, SendWindow } from "./credit-window.js";

describe("SendWindow", () => {
  it("never hands out more than was granted", () => {
    const w = new SendWindow(100);
    expect(w.take(64)).toBe(64);
    expect(w.take(64)).toBe(36);
    expect(w.take(64)).toBe(0);
    w.grant(10);
    expect(w.take(64)).toBe(10);
  });

  it("wakes a waiting sender when credit arrives", async () => {
    const w = new SendWindow(0);
    let woke = false;
    const waiting = w.ready().then(() => (woke = true));
    await Promise.resolve();
    expect(woke).toBe(false);
    w.grant(5);
    await waiting;
    expect(woke).toBe(true);
  });

  it("stops waiting when aborted", async () => {
    const w = new SendWindow(0);
    const abort = new AbortController();
    const waiting = w.ready(abort.signal);
    abort.abort();
    await expect(waiting).resolves.toBeUndefined();
    expect(w.credit).toBe(0);
  });

  it("releases a waiting sender when the channel ends", async () => {
    const w = new SendWindow(0);
    const waiting = w.ready();
    w.cancel();
    await expect(waiting).resolves.toBeUndefined();
    expect(w.take(10)).toBe(0);
  });

  it("refuses nonsense grants", () => {
    const w = new SendWindow(0);
    expect(() => w.grant(0)).toThrow(RangeError);
    expect(() => w.grant(-5)).toThrow(RangeError);
    expect(() => w.grant(1.5)).toThrow(RangeError);
    expect(() => w.grant(2 ** 31)).toThrow(CreditOverrunError);
  });
});

describe("ReceiveWindow", () => {
  it("detects a peer that sends past its credit", () => {
    const w = new ReceiveWindow(100);
    w.received(60);
    expect(() => w.received(41)).toThrow(CreditOverrunError);
    w.received(40);
    expect(w.granted).toBe(0);
  });

  it("returns credit in half-window batches as data is processed", () => {
    const w = new ReceiveWindow(100);
    w.received(100);
    expect(w.processed(30)).toBe(0);
    expect(w.processed(30)).toBe(60);
    expect(w.granted).toBe(60);
    expect(w.processed(40)).toBe(0);
    expect(w.processed(10)).toBe(50);
    expect(w.granted).toBe(110);
  });
});
