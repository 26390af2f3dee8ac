/** How long a verified token is trusted without verifying it again. Defaults to 60 s. */
export const VERIFIED_TOKEN_TTL_MS = 60_000;
/** Tokens remembered at once; past this the oldest is forgotten. Defaults to 1,024. */
export const MAX_VERIFIED_TOKENS = 1_024;

/**
 * Tokens that passed verification, with what they verified as, so a
 * technician's burst of calls (open, channel, close) pays for the signature
 * check once. An entry lives at most `ttlMs` and never past the token's own
 * `exp`; a revoked signing key or JWKS rotation takes effect within `ttlMs`.
 */
export class VerifiedTokenCache<T> {
  private readonly entries = new Map<string, { value: T; until: number }>();

  constructor(
    private readonly ttlMs = VERIFIED_TOKEN_TTL_MS,
    private readonly max = MAX_VERIFIED_TOKENS,
    private readonly now: () => number = Date.now,
  ) {}

  get(token: string): T | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    if (this.now() < entry.until) return entry.value;
    this.entries.delete(token);
    return undefined;
  }

  /** Remembers `token` until `now + ttlMs` or `expiresAtMs`, whichever is sooner. */
  set(token: string, value: T, expiresAtMs: number): void {
    const until = Math.min(this.now() + this.ttlMs, expiresAtMs);
    if (until <= this.now()) return;
    this.entries.delete(token);
    // A Map iterates in insertion order, so its first key is the oldest entry.
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(token, { value, until });
  }
}
