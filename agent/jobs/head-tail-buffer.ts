/** Bytes kept from each end of a job step's output stream. Defaults to 64 KiB, the contract's StepOutput limit. */
export const STEP_OUTPUT_KEEP_BYTES = 64 * 1024;

export interface KeptOutput {
  head: Uint8Array;
  tail: Uint8Array;
  totalBytes: number;
  truncated: boolean;
}

/**
 * The first and the last `keep` bytes of a stream of any length, with its
 * true length: memory per stream stays under 2 x keep plus one chunk, however
 * much the program writes.
 */
export class HeadTailBuffer {
  private readonly head: Buffer[] = [];
  private headBytes = 0;
  private tail: Buffer[] = [];
  private tailBytes = 0;
  private total = 0;

  constructor(private readonly keep = STEP_OUTPUT_KEEP_BYTES) {}

  push(chunk: Buffer): void {
    this.total += chunk.length;
    let rest = chunk;
    if (this.headBytes < this.keep) {
      const take = Math.min(this.keep - this.headBytes, rest.length);
      this.head.push(rest.subarray(0, take));
      this.headBytes += take;
      rest = rest.subarray(take);
    }
    if (rest.length === 0) return;
    this.tail.push(rest);
    this.tailBytes += rest.length;
    while (this.tailBytes - this.tail[0]!.length >= this.keep) this.tailBytes -= this.tail.shift()!.length;
  }

  result(): KeptOutput {
    const head = Buffer.concat(this.head);
    let tail = Buffer.concat(this.tail);
    if (tail.length > this.keep) tail = tail.subarray(tail.length - this.keep);
    return { head, tail, totalBytes: this.total, truncated: this.total > head.length + tail.length };
  }
}
