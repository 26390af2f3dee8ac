import { randomUUID } from "node:crypto";
import { SignJWT, jwtVerify } from "jose";
import { ENROLLMENT_AUDIENCE, type Role } from "./claims.js";
import { joseErrorToConnect } from "./jose-error.js";

/** Signs tokens with the server's own secret (HS256). */
export class TokenIssuer {
  constructor(
    private readonly secret: Uint8Array,
    private readonly issuer: string,
    private readonly technicianAudience: string,
  ) {}

  /** A technician token; `ttlSeconds` bounds its life (every token expires). */
  mintTechnician(subject: string, role: Role, ttlSeconds: number): Promise<string> {
    return this.sign({ role }, subject, this.technicianAudience, ttlSeconds);
  }

  /** An enrollment token: reusable until it expires, so one can enroll a batch of machines. */
  mintEnrollment(ttlSeconds: number): Promise<string> {
    return this.sign({ purpose: "enroll" }, "enrollment", ENROLLMENT_AUDIENCE, ttlSeconds);
  }

  /** Checks an enrollment token; throws Unauthenticated with a reason. */
  async verifyEnrollment(token: string): Promise<void> {
    try {
      await jwtVerify(token, this.secret, {
        algorithms: ["HS256"],
        issuer: this.issuer,
        audience: ENROLLMENT_AUDIENCE,
        requiredClaims: ["exp"],
      });
    } catch (err) {
      throw joseErrorToConnect(err, "enrollment token");
    }
  }

  private sign(claims: Record<string, string>, subject: string, audience: string, ttlSeconds: number): Promise<string> {
    return new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(subject)
      .setIssuer(this.issuer)
      .setAudience(audience)
      .setIssuedAt()
      .setJti(randomUUID())
      .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
      .sign(this.secret);
  }
}
