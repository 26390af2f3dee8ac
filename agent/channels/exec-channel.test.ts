import { readFileSync } from "node:fs";
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../common/logger.js";
import { OutputStream, type ExitStatus } from "../../gen/rmm/v1/exec_pb.js";
import { ChannelType, TunnelFrameSchema, type ChannelClose, type ChannelInfo } from "../../gen/rmm/v1/frame_pb.js";
import { until } from "../../test/support/until.js";
import { ChannelMux, type FrameInit } from "./channel-mux.js";
import { execChannel } from "./exec-channel.js";

const WRITE_SYSCALL: Partial<Record<string, number>> = { x64: 1, arm64: 64 };

/** The process sleeps in write(1, ...): its stdout is full because nobody reads it (Linux /proc/PID/syscall). */
function blockedWritingStdout(pid: number): boolean {
  const [nr, fd] = readFileSync(`/proc/${pid}/syscall`, "utf8").split(" ");
  return Number(nr) === WRITE_SYSCALL[process.arch] && fd === "0x1";
}

/** Bytes the process has written so far, to any file (Linux /proc/PID/io). */
function bytesWritten(pid: number): number {
  return Number(/^wchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, "utf8"))?.[1]);
}

function setup() {
  const sent: FrameInit[] = [];
  const mux = new ChannelMux(
    "s1",
    (f) => sent.push(f),
    new Map([[ChannelType.EXEC, execChannel]]),
    createLogger("test", "silent"),
  );
  let seq = 1n;
  const frame = (payload: FrameInit["payload"]) =>
    mux.handle(create(TunnelFrameSchema, { sessionId: "s1", channelId: 1, sequence: seq++, payload }));
  const dataBytes = () =>
    sent
      .filter((f) => f.payload?.case === "data")
      .reduce((n, f) => n + (f.payload!.value as { data: Uint8Array }).data.length, 0);
  const close = () =>
    sent.find((f) => f.payload?.case === "close")?.payload?.value as (ChannelClose & { exit?: ExitStatus }) | undefined;
  return { sent, frame, dataBytes, close };
}

describe("exec channel on the agent", () => {
  it("never sends more output than the peer granted, and finishes once credit arrives", async () => {
    const { sent, frame, dataBytes, close } = setup();
    const total = 4 * 1024 * 1024;
    frame({
      case: "open",
      value: {
        type: ChannelType.EXEC,
        initialCredit: 64 * 1024,
        params: { case: "exec", value: { argv: ["head", "-c", String(total), "/dev/zero"] } },
      },
    });
    await until(() => dataBytes() === 64 * 1024, "the first window of output");
    const started = sent.find((f) => f.payload?.case === "info")?.payload?.value as ChannelInfo;
    const pid = (started.kind.value as { pid: number }).pid;
    // The program is blocked on its full stdout, not read into a buffer here: it waits in write(), having written
    // a small part of its output (what is in flight: the window sent, the pump's queue, the socket's buffer).
    await until(() => blockedWritingStdout(pid), `process ${pid} to block writing to its full stdout`);
    expect(bytesWritten(pid)).toBeLessThan(total / 4);
    expect(dataBytes()).toBe(64 * 1024);
    expect(close()).toBeUndefined();
    // As a reader does: credit for what arrived, never more outstanding than the 64 KiB window.
    for (let granted = 64 * 1024; !close(); granted += 64 * 1024) {
      frame({ case: "credit", value: { bytes: 64 * 1024 } });
      await until(() => dataBytes() === granted + 64 * 1024 || close() !== undefined, "the next window of output");
    }
    expect(dataBytes()).toBe(total);
    expect(close()?.exit).toMatchObject({ exitCode: 0, stdoutBytes: BigInt(total) });
  });

  it("tags stderr, takes stdin until eof, and refuses input after eof", async () => {
    const { sent, frame, close } = setup();
    frame({
      case: "open",
      value: {
        type: ChannelType.EXEC,
        initialCredit: 1 << 20,
        params: { case: "exec", value: { argv: ["sh", "-c", "cat >&2"] } },
      },
    });
    frame({ case: "data", value: { data: Buffer.from("to stderr") } });
    frame({ case: "eof", value: {} });
    await until(() => close() !== undefined, "the program to exit");
    const data = sent
      .filter((f) => f.payload?.case === "data")
      .map((f) => f.payload!.value as { data: Uint8Array; stream: OutputStream });
    expect(data.map((d) => [d.stream, Buffer.from(d.data).toString()])).toEqual([[OutputStream.STDERR, "to stderr"]]);

    const second = setup();
    second.frame({
      case: "open",
      value: {
        type: ChannelType.EXEC,
        initialCredit: 1 << 20,
        params: { case: "exec", value: { argv: ["sleep", "5"] } },
      },
    });
    second.frame({ case: "eof", value: {} });
    second.frame({ case: "data", value: { data: Buffer.from("late") } });
    expect(second.close()?.code).toBe(Code.FailedPrecondition);
  });

  it("refuses a missing program or working directory before spawning anything", () => {
    const cases: Array<[{ argv: string[]; workingDirectory?: string }, Code]> = [
      [{ argv: ["definitely-not-a-program"] }, Code.NotFound],
      [{ argv: ["ls"], workingDirectory: "/definitely/not/here" }, Code.NotFound],
      [{ argv: [] }, Code.InvalidArgument],
    ];
    for (const [params, code] of cases) {
      const { frame, close } = setup();
      frame({
        case: "open",
        value: { type: ChannelType.EXEC, initialCredit: 1024, params: { case: "exec", value: params } },
      });
      expect(close()?.code).toBe(code);
    }
  });
});
