import { webcrypto } from "node:crypto";
import { readFileSync } from "node:fs";
import { Code, ConnectError } from "@connectrpc/connect";
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from "jose";
import { bearerToken } from "./bearer.js";
import { ROLES, type Role, type Technician } from "./claims.js";
import { joseErrorToConnect } from "./jose-error.js";
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
}

export type TechnicianVerifier = (authorization: string | null) => Promise<Technician>;

/**
 * Tokens must carry `exp` and `sub`; `alg: none` and algorithms outside the
 * list are refused by jose. A token that verified is trusted again without a
 * signature check for up to 60 s (never past its `exp`): see VerifiedTokenCache.
 */
export function createTechnicianVerifier(opts: TechnicianVerifierOptions): TechnicianVerifier {
  const key = resolveKey(opts.keys);
  const algorithms =
    opts.algorithms ?? (opts.keys.kind === "secret" ? ["HS256"] : ["RS256", "PS256", "ES256", "EdDSA"]);
  const verified = new VerifiedTokenCache<Technician>();
  return async (authorization) => {
    const token = bearerToken(authorization, "technician token");
    const known = verified.get(token);
    if (known) return known;
    let payload;
    try {
      const k = await key;
      ({ payload } = await (typeof k === "function"
        ? jwtVerify(token, k, {
            algorithms,
            issuer: opts.issuer,
            audience: opts.audience,
            requiredClaims: ["exp", "sub"],
          })
        : jwtVerify(token, k, {
            algorithms,
            issuer: opts.issuer,
            audience: opts.audience,
            requiredClaims: ["exp", "sub"],
          })));
    } catch (err) {
      throw joseErrorToConnect(err, "technician token");
    }
    const role = payload.role ?? "tech";
    if (typeof role !== "string" || !(ROLES as readonly string[]).includes(role)) {
      throw new ConnectError(`token role "${String(role)}" is not one of ${ROLES.join(", ")}`, Code.PermissionDenied);
    }
    // requiredClaims guarantees sub and exp are present.
    const technician: Technician = { subject: payload.sub as string, role: role as Role };
    verified.set(token, technician, (payload.exp as number) * 1000);
    return technician;
  };
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
