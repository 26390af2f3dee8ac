/** Unread output kept per stream of one command. Defaults to 1 MiB: past it the oldest bytes go (and the reader is told). */
export const RETAINED_OUTPUT_BYTES = 1 << 20;

/** What a read from an offset got. */
export interface OutputRead {
  data: Uint8Array;
  /** Offset of data[0] in the stream (later than asked when bytes were dropped). */
  from: number;
  /** Offset to ask for next time. */
  next: number;
  /** Bytes between the asked offset and `from` that were no longer kept. */
  dropped: number;
}

/**
 * One output stream of a command, addressed by byte offset from its start.
 * Output keeps flowing while nobody reads (an assistant may only want the exit
 * status), so memory is bounded by dropping the oldest bytes, never by
 * stalling the program.
 */
export class OutputBuffer {
  private chunks: Uint8Array[] = [];
  private retained = 0;
  /** Offset of the first retained byte. */
  private start = 0;

  constructor(private readonly retainBytes = RETAINED_OUTPUT_BYTES) {}

  /** Bytes written so far. */
  get end(): number {
    return this.start + this.retained;
  }

  append(data: Uint8Array): void {
    if (data.length === 0) return;
    this.chunks.push(data);
    this.retained += data.length;
    while (this.retained > this.retainBytes && this.chunks.length > 0) {
      const first = this.chunks[0]!;
      const over = this.retained - this.retainBytes;
      if (first.length <= over) {
        this.chunks.shift();
        this.retained -= first.length;
        this.start += first.length;
      } else {
        this.chunks[0] = first.subarray(over);
        this.retained -= over;
        this.start += over;
      }
    }
  }

  read(offset: number): OutputRead {
    const from = Math.min(Math.max(offset, this.start), this.end);
    const all = Buffer.concat(this.chunks);
    return {
      data: all.subarray(from - this.start),
      from,
      next: this.end,
      dropped: Math.max(0, Math.min(this.start, this.end) - offset),
    };
  }
}
