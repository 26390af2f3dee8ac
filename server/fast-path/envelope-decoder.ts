import { Code, ConnectError } from "@connectrpc/connect";

/** gRPC message envelope: flags byte, 4-byte big-endian length. */
export const ENVELOPE_HEADER_BYTES = 5;
const COMPRESSED_FLAG = 0b1;

/**
 * Splits a gRPC request body, arriving in arbitrary chunks (HTTP/2 DATA
 * frames), into its messages. A message that arrived in one chunk is handed
 * out as a view of it; one spread over several is copied once, when its last
 * byte arrives. Lengths past `readMaxBytes` are refused from the header,
 * before anything is buffered for them.
 */
export class EnvelopeDecoder {
  private chunks: Uint8Array[] = [];
  private buffered = 0;

  constructor(private readonly readMaxBytes: number) {}

  /** True while part of a message is still waiting for the rest. */
  get pending(): boolean {
    return this.buffered > 0;
  }

  /** The messages `chunk` completes, in order. */
  push(chunk: Uint8Array): Uint8Array[] {
    if (chunk.length === 0) return [];
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const messages: Uint8Array[] = [];
    while (this.buffered >= ENVELOPE_HEADER_BYTES) {
      const header = this.peek(ENVELOPE_HEADER_BYTES);
      const length = new DataView(header.buffer, header.byteOffset, ENVELOPE_HEADER_BYTES).getUint32(1);
      if (length > this.readMaxBytes)
        throw new ConnectError(
          `message size ${length} is larger than configured readMaxBytes ${this.readMaxBytes}`,
          Code.ResourceExhausted,
        );
      if ((header[0]! & COMPRESSED_FLAG) !== 0)
        throw new ConnectError(
          // Word for word what connect-node answers (grpc-fast-path-parity.test.ts).
          "received compressed envelope, but do not know how to decompress",
          Code.Internal,
        );
      if (this.buffered < ENVELOPE_HEADER_BYTES + length) break;
      messages.push(this.take(ENVELOPE_HEADER_BYTES + length).subarray(ENVELOPE_HEADER_BYTES));
    }
    return messages;
  }

  /** The first `n` buffered bytes, without consuming them. */
  private peek(n: number): Uint8Array {
    const first = this.chunks[0]!;
    return first.length >= n ? first.subarray(0, n) : this.gather(n, false);
  }

  /** Consumes and returns the first `n` buffered bytes. */
  private take(n: number): Uint8Array {
    const first = this.chunks[0]!;
    this.buffered -= n;
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    if (first.length === n) {
      this.chunks.shift();
      return first;
    }
    return this.gather(n, true);
  }

  private gather(n: number, consume: boolean): Uint8Array {
    const out = new Uint8Array(n);
    let filled = 0;
    let i = 0;
    while (filled < n) {
      const chunk = this.chunks[i]!;
      const used = Math.min(chunk.length, n - filled);
      out.set(chunk.subarray(0, used), filled);
      filled += used;
      if (!consume) i++;
      else if (used === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(used);
    }
    return out;
  }
}
