/**
 * How far a token's `iat` may lie in the future of this server's clock.
 * Defaults to 60 s: clocks under NTP agree far better; a token "issued"
 * later than that was minted wrongly or to outlive its lifetime check.
 */
export const CLOCK_SKEW_MS = 60_000;

/** Longest technician token lifetime (`exp - iat`) accepted or minted. Defaults to 24 h (`--max-token-ttl`). */
export const DEFAULT_MAX_TOKEN_TTL_MS = 24 * 3_600_000;
