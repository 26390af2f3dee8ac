import type { OutputStream } from "../../gen/rmm/v1/exec_pb.js";
import type { ChannelIo } from "../channel-io.js";

interface Chunk {
  data: Uint8Array;
  stream: OutputStream | undefined;
}

/**
 * Sends a process's output under the channel's credit, in the order it was
 * read. Output that finds no credit waits here while the sources are paused,
 * so what the agent holds per channel is at most the chunks already read when
 * credit ran out (one pipe read each), and a slow technician slows the
 * process: its pipe fills and its writes block.
 */
export class OutputPump {
  private readonly queue: Chunk[] = [];
  private paused = false;
  private drainedWaiter: (() => void) | undefined;

  constructor(
    private readonly io: ChannelIo,
    private readonly flow: { pause(): void; resume(): void },
  ) {}

  push(data: Uint8Array, stream?: OutputStream): void {
    this.queue.push({ data, stream });
    this.pump();
  }

  /** Credit arrived. */
  pump(): void {
    while (this.queue.length > 0) {
      const chunk = this.queue[0]!;
      const n = this.io.sendWindow.take(chunk.data.length);
      if (n === 0) break;
      this.io.sendData(n === chunk.data.length ? chunk.data : chunk.data.subarray(0, n), chunk.stream);
      if (n === chunk.data.length) this.queue.shift();
      else chunk.data = chunk.data.subarray(n);
    }
    if (this.queue.length > 0 && !this.paused) {
      this.paused = true;
      this.flow.pause();
    } else if (this.queue.length === 0) {
      if (this.paused) {
        this.paused = false;
        this.flow.resume();
      }
      const wake = this.drainedWaiter;
      this.drainedWaiter = undefined;
      wake?.();
    }
  }

  /** Calls `then` once everything queued has been sent (at once if nothing is). */
  whenDrained(then: () => void): void {
    if (this.queue.length === 0) then();
    else this.drainedWaiter = then;
  }

  /** The channel is gone: drop what waits. */
  clear(): void {
    this.queue.length = 0;
    this.drainedWaiter = undefined;
  }
}
