import { describe, expect, it } from "vitest";
import { EscapeSequence } from "./escape-sequence.js";

const feed = (esc: EscapeSequence, text: string) => {
  const { send, actions } = esc.feed(Buffer.from(text));
  return { send: send.toString(), actions };
};

describe("ssh escape sequences in rmm shell", () => {
  it("leaves on ~. at the start, or right after a newline, and sends nothing of it", () => {
    expect(feed(new EscapeSequence(), "~.")).toEqual({ send: "", actions: ["leave"] });
    expect(feed(new EscapeSequence(), "ls\r~.")).toEqual({ send: "ls\r", actions: ["leave"] });
  });

  it("passes a ~ typed mid-line to the remote shell", () => {
    expect(feed(new EscapeSequence(), "cd ~.")).toEqual({ send: "cd ~.", actions: [] });
  });

  it("shows help on ~?, sends one ~ for ~~, and both bytes for ~ and anything else", () => {
    expect(feed(new EscapeSequence(), "~?")).toEqual({ send: "", actions: ["help"] });
    expect(feed(new EscapeSequence(), "~~.")).toEqual({ send: "~.", actions: [] });
    expect(feed(new EscapeSequence(), "~/bin")).toEqual({ send: "~/bin", actions: [] });
  });

  it("recognises an escape split across reads, as typing delivers it", () => {
    const esc = new EscapeSequence();
    expect(feed(esc, "echo\n")).toEqual({ send: "echo\n", actions: [] });
    expect(feed(esc, "~")).toEqual({ send: "", actions: [] });
    expect(feed(esc, ".")).toEqual({ send: "", actions: ["leave"] });
  });
});
