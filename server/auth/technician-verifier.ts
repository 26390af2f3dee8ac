import { webcrypto } from "node:crypto";
import { readFileSync } from "node:fs";
import { Code, ConnectError } from "@connectrpc/connect";
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from "jose";
import { bearerToken } from "./bearer.js";
import { ROLES, type Role, type Technician } from "./claims.js";
import { joseErrorToConnect } from "./jose-error.js";
import { CLOCK_SKEW_MS, DEFAULT_MAX_TOKEN_TTL_MS } from "./token-limits.js";
import type { RevocableToken, TokenRevocations } from "./token-revocations.js";
import { VerifiedTokenCache } from "./verified-token-cache.js";

export type TechnicianKeySource =
  | { kind: "secret"; secret: Uint8Array }
  /** A JWKS file path or an https URL (production: your identity provider). */
  | { kind: "jwks"; location: string };

export interface TechnicianVerifierOptions {
  keys: TechnicianKeySource;
  issuer: string;
  audience: string;
  /** Accepted `alg` values. Defaults: HS256 for the local secret; RS256, PS256, ES256, EdDSA for a JWKS. */
  algorithms?: string[];
  /** Longest lifetime (`exp - iat`) accepted. Defaults to 24 h. */
  maxTokenTtlMs?: number;
  /** Revocations, checked on every call (a cached verification too). */
  revocations?: Pick<TokenRevocations, "reason">;
}

export type TechnicianVerifier = (authorization: string | null) => Promise<Technician>;

/**
 * Tokens must carry `exp`, `iat` and a non-empty string `sub`; `alg: none`
 * and algorithms outside the list are refused by jose. `iat` may not lie more
 * than CLOCK_SKEW_MS ahead, and `exp - iat` may not pass `maxTokenTtlMs`.
 * A token that verified is trusted again without a signature check for up to
 * 60 s (never past its `exp`): see VerifiedTokenCache; revocations are
 * checked on every call all the same.
 */
export function createTechnicianVerifier(opts: TechnicianVerifierOptions): TechnicianVerifier {
  const key = resolveKey(opts.keys);
  const algorithms =
    opts.algorithms ?? (opts.keys.kind === "secret" ? ["HS256"] : ["RS256", "PS256", "ES256", "EdDSA"]);
  const verified = new VerifiedTokenCache<VerifiedToken>();
  const maxTtlMs = opts.maxTokenTtlMs ?? DEFAULT_MAX_TOKEN_TTL_MS;
  const notRevoked = (known: VerifiedToken): Technician => {
    const revoked = opts.revocations?.reason(known.revocable);
    if (revoked !== undefined) throw new ConnectError(`technician token refused: ${revoked}`, Code.Unauthenticated);
    return known.technician;
  };
  return async (authorization) => {
    const token = bearerToken(authorization, "technician token");
    const known = verified.get(token);
    if (known) return notRevoked(known);
    let payload;
    try {
      const k = await key;
      ({ payload } = await (typeof k === "function"
        ? jwtVerify(token, k, {
            algorithms,
            issuer: opts.issuer,
            audience: opts.audience,
            requiredClaims: ["exp", "sub", "iat"],
          })
        : jwtVerify(token, k, {
            algorithms,
            issuer: opts.issuer,
            audience: opts.audience,
            requiredClaims: ["exp", "sub", "iat"],
          })));
    } catch (err) {
      throw joseErrorToConnect(err, "technician token");
    }
    // jose checks only that these are present; their types and bounds are ours to check.
    const { sub, iat, exp, jti } = payload;
    if (typeof sub !== "string" || sub.trim() === "")
      throw new ConnectError(`technician token claim "sub" must be a non-empty string`, Code.Unauthenticated);
    if (typeof iat !== "number" || typeof exp !== "number")
      throw new ConnectError(`technician token claims "iat" and "exp" must be numbers`, Code.Unauthenticated);
    if (iat * 1000 > Date.now() + CLOCK_SKEW_MS)
      throw new ConnectError(
        `technician token is issued in the future (iat ${new Date(iat * 1000).toISOString()}): check the issuer's clock`,
        Code.Unauthenticated,
      );
    if ((exp - iat) * 1000 > maxTtlMs)
      throw new ConnectError(
        `technician token lives ${formatHours((exp - iat) * 1000)}, longer than this server's limit of ${formatHours(maxTtlMs)} (--max-token-ttl): mint a shorter one`,
        Code.Unauthenticated,
      );
    const role = payload.role ?? "tech";
    if (typeof role !== "string" || !(ROLES as readonly string[]).includes(role)) {
      throw new ConnectError(`token role "${String(role)}" is not one of ${ROLES.join(", ")}`, Code.PermissionDenied);
    }
    const entry: VerifiedToken = {
      technician: { subject: sub, role: role as Role },
      revocable: { jti: typeof jti === "string" ? jti : undefined, subject: sub, issuedAtMs: iat * 1000 },
    };
    verified.set(token, entry, exp * 1000);
    return notRevoked(entry);
  };
}

interface VerifiedToken {
  technician: Technician;
  revocable: RevocableToken;
}

function formatHours(ms: number): string {
  const hours = ms / 3_600_000;
  return `${Number.isInteger(hours) ? hours : hours.toFixed(2)} h`;
}

/**
 * The local secret is imported as a CryptoKey once: given raw bytes, jose
 * imports them again on every verification.
 */
function resolveKey(source: TechnicianKeySource): Promise<webcrypto.CryptoKey> | JWTVerifyGetKey {
  if (source.kind === "secret")
    return webcrypto.subtle.importKey("raw", source.secret, { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  if (/^https?:\/\//.test(source.location)) return createRemoteJWKSet(new URL(source.location));
  return createLocalJWKSet(JSON.parse(readFileSync(source.location, "utf8")));
}
