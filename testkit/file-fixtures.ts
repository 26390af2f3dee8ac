import { createHash, randomBytes } from "node:crypto";
import assert, { AssertionError } from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { Code, ConnectError } from "@connectrpc/connect";

/** Writes `size` random bytes to `path` and returns their hex SHA-256. */
export function writeRandomFile(path: string, size: number): string {
  const data = randomBytes(size);
  writeFileSync(path, data);
  return sha256Hex(data);
}

export function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

export function fileSha256(path: string): string {
  return sha256Hex(readFileSync(path));
}

/** Awaits `promise`, expecting it to fail with a ConnectError of `code` whose message matches `message`. */
export async function expectCode(promise: Promise<unknown>, code: Code, message?: RegExp): Promise<ConnectError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  // node:assert rather than vitest's expect: benchmarks import this file outside vitest.
  if (!(err instanceof ConnectError))
    throw new AssertionError({ message: `expected ${Code[code]}, got ${String(err)}`, actual: err, expected: code });
  assert.equal(Code[err.code], Code[code], err.rawMessage);
  if (message) assert.match(err.rawMessage, message);
  return err;
}

/** Like writeRandomFile for sizes that should not sit in memory: written in 16 MiB pieces; returns the hex SHA-256. */
export async function writeLargeRandomFile(path: string, size: number): Promise<string> {
  const { open } = await import("node:fs/promises");
  const hash = createHash("sha256");
  const handle = await open(path, "w");
  try {
    for (let written = 0; written < size;) {
      const piece = randomBytes(Math.min(16 * 1024 * 1024, size - written));
      hash.update(piece);
      await handle.write(piece, 0, piece.length, written);
      written += piece.length;
    }
  } finally {
    await handle.close();
  }
  return hash.digest("hex");
}

/** Peak resident memory of a process so far, in bytes (Linux: VmHWM). */
export function peakRssBytes(pid: number | "self"): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
  if (!kb) throw new Error(`no VmHWM for process ${pid}`);
  return Number(kb) * 1024;
}

/** SHA-256 of a file too big to read at once. */
export async function fileSha256Streaming(path: string): Promise<string> {
  const { createReadStream } = await import("node:fs");
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
