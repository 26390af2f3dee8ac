import { createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { Code, ConnectError } from "@connectrpc/connect";
import { expect } from "vitest";

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
  expect(err, `expected ${Code[code]}`).toBeInstanceOf(ConnectError);
  const ce = err as ConnectError;
  expect(Code[ce.code], ce.rawMessage).toBe(Code[code]);
  if (message) expect(ce.rawMessage).toMatch(message);
  return ce;
}
