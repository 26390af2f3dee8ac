import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** 256-bit key for HS256, the size RFC 7518 requires at least. */
const SECRET_BYTES = 32;
export const SIGNING_SECRET_FILE = "jwt-secret.key";

/**
 * The server's own HMAC key: signs development technician tokens and every
 * enrollment token. Generated into the data dir on first start (mode 0600) so a
 * fresh install needs no setup, and reused after so tokens survive restarts.
 */
export function loadOrCreateSigningSecret(dataDir: string): { secret: Uint8Array; created: boolean } {
  const path = join(dataDir, SIGNING_SECRET_FILE);
  try {
    const secret = Buffer.from(readFileSync(path, "utf8").trim(), "base64url");
    if (secret.length < SECRET_BYTES)
      throw new Error(`${path} holds ${secret.length} bytes; at least ${SECRET_BYTES} are needed`);
    return { secret, created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const secret = randomBytes(SECRET_BYTES);
  // 'wx' fails if another process created it meanwhile, so two first starts never disagree on the key.
  try {
    writeFileSync(path, secret.toString("base64url") + "\n", { mode: 0o600, flag: "wx" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return loadOrCreateSigningSecret(dataDir);
    throw err;
  }
  return { secret, created: true };
}

/** A secret another process made (a cluster's shared key): read only, never created. */
export function loadSigningSecretFile(path: string): Uint8Array {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new Error(`signing secret file ${path}: ${(err as Error).message}`, { cause: err });
  }
  const secret = Buffer.from(text.trim(), "base64url");
  if (secret.length < SECRET_BYTES)
    throw new Error(`${path} holds ${secret.length} bytes; at least ${SECRET_BYTES} are needed`);
  return secret;
}
