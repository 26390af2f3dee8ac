import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** 256 bits of secret per agent. */
const SECRET_BYTES = 32;

/**
 * An agent credential is `<agentId>.<secret>`: the id finds the row, and only
 * the SHA-256 of the secret is stored, so a database leak yields no usable
 * credential. A fast hash suffices because the secret is random, not a password.
 */
export function newAgentCredential(agentId: string): { credential: string; hash: string } {
  const secret = randomBytes(SECRET_BYTES).toString("base64url");
  return { credential: `${agentId}.${secret}`, hash: hashSecret(secret) };
}

export function parseAgentCredential(credential: string): { agentId: string; secret: string } | undefined {
  const dot = credential.lastIndexOf(".");
  if (dot <= 0 || dot === credential.length - 1) return undefined;
  return { agentId: credential.slice(0, dot), secret: credential.slice(dot + 1) };
}

export function secretMatches(secret: string, storedHash: string): boolean {
  const actual = Buffer.from(hashSecret(secret), "hex");
  const expected = Buffer.from(storedHash, "hex");
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}
