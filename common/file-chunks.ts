import { createHash, type Hash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";

/** Bytes per data message of a transfer. 64 KiB: tens of KiB for throughput, far under message limits, four per default window. */
export const FILE_CHUNK_BYTES = 64 * 1024;

/**
 * Credit window of a file channel, each way. 2 MiB: a transfer crosses two
 * hops, and with the default 256 KiB the credit round trips, not the
 * network, set the pace. Memory stays one window per hop per transfer.
 */
export const FILE_WINDOW_BYTES = 2 * 1024 * 1024;

/**
 * Reads `handle` from `start` to `end` (exclusive; default: end of file) in chunks of at most `chunkBytes`.
 * Each chunk is a fresh buffer the caller may keep.
 */
export async function* readChunks(
  handle: FileHandle,
  start: number,
  end = Number.POSITIVE_INFINITY,
  chunkBytes = FILE_CHUNK_BYTES,
): AsyncGenerator<Uint8Array> {
  for (let position = start; position < end;) {
    const buffer = Buffer.allocUnsafe(Math.min(chunkBytes, end - position));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
    if (bytesRead === 0) return;
    position += bytesRead;
    yield bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
  }
}

/**
 * SHA-256 of the first `length` bytes of `handle`: a resumed transfer hashes
 * what it already holds before the rest arrives. Aborting `signal` stops the
 * reading between two reads and rejects with its reason: hashing gigabytes
 * for a transfer already cancelled only delays its retry.
 */
export async function hashPrefix(handle: FileHandle, length: number, signal?: AbortSignal): Promise<Hash> {
  const hash = createHash("sha256");
  // Bigger reads than a chunk: this is local disk only, and resuming 1 GiB should not take 16k reads.
  for await (const chunk of readChunks(handle, 0, length, 1 << 20)) {
    signal?.throwIfAborted();
    hash.update(chunk);
  }
  return hash;
}
