import type { Logger } from "../../common/logger.js";
import type { RevokedTokenStore } from "../store/index.js";
import { CLOCK_SKEW_MS } from "./token-limits.js";

/**
 * How often revocations are read from the database. Defaults to 10 s: a
 * revocation (made by `rmm-server revoke-token`, possibly on another host)
 * takes effect within that, well inside the verified-token cache's 60 s,
 * because every call, cached or not, is checked against this list.
 */
export const REVOCATION_REFRESH_MS = 10_000;

/** What a revocation is checked against. */
export interface RevocableToken {
  jti: string | undefined;
  subject: string;
  issuedAtMs: number;
}

/**
 * The revocations that can still matter, in memory: those made within the
 * longest token lifetime (a token older than that is refused anyway), so the
 * list stays small however long the table grows.
 */
export class TokenRevocations {
  private byJti = new Map<string, number>();
  /** Subject -> tokens issued before this time are revoked. */
  private bySubject = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: RevokedTokenStore,
    private readonly maxTokenTtlMs: number,
    private readonly log: Logger,
    private readonly refreshMs = REVOCATION_REFRESH_MS,
  ) {}

  /** Reads the list; a failed read keeps the previous one (and says so). */
  async refresh(): Promise<void> {
    const rows = await this.store.relevantSince(Date.now() - this.maxTokenTtlMs - 2 * CLOCK_SKEW_MS);
    const byJti = new Map<string, number>();
    const bySubject = new Map<string, number>();
    for (const row of rows) {
      if (row.jti !== null) byJti.set(row.jti, row.revoked_at);
      if (row.subject !== null && row.issued_before !== null)
        bySubject.set(row.subject, Math.max(bySubject.get(row.subject) ?? 0, row.issued_before));
    }
    this.byJti = byJti;
    this.bySubject = bySubject;
  }

  start(): void {
    this.timer ??= setInterval(() => {
      this.refresh().catch((err: unknown) =>
        this.log.warn({ err }, "could not read token revocations; the last list read stays in force"),
      );
    }, this.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Why `token` is revoked, or undefined when it is not. */
  reason(token: RevocableToken): string | undefined {
    if (token.jti !== undefined) {
      const at = this.byJti.get(token.jti);
      if (at !== undefined) return `this token (jti ${token.jti}) was revoked at ${new Date(at).toISOString()}`;
    }
    const before = this.bySubject.get(token.subject);
    if (before !== undefined && token.issuedAtMs < before)
      return `tokens of ${token.subject} issued before ${new Date(before).toISOString()} have been revoked`;
    return undefined;
  }
}
