import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { SignJWT, type JWTPayload } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TunnelService } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { SIGNING_SECRET_FILE } from "../../server/auth/signing-secret.js";
import { createTestDatabase, DIALECTS, type TestDatabase } from "../../testkit/test-databases.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

function b64(json: object): string {
  return Buffer.from(JSON.stringify(json)).toString("base64url");
}

describe.each(DIALECTS)("technician authentication on %s", (dialect) => {
  let db: TestDatabase;
  let ts: TestServer;
  let secret: Uint8Array;

  beforeAll(async () => {
    db = await createTestDatabase(dialect);
    ts = await startTestServer(db.url);
    secret = Buffer.from(readFileSync(join(ts.config.dataDir, SIGNING_SECRET_FILE), "utf8").trim(), "base64url");
  });
  afterAll(async () => {
    await ts.dispose();
    await db.drop();
  });

  const now = () => Math.floor(Date.now() / 1000);
  function token(
    opts: {
      key?: Uint8Array;
      iss?: string;
      aud?: string;
      exp?: number | null;
      sub?: string | null;
      /** A `sub` of any JSON type, written as is. */
      rawSub?: unknown;
      iat?: number | null;
      role?: string;
    } = {},
  ): Promise<string> {
    const claims: Record<string, unknown> = opts.role === undefined ? {} : { role: opts.role };
    if (opts.rawSub !== undefined) claims.sub = opts.rawSub;
    const jwt = new SignJWT(claims as JWTPayload)
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer(opts.iss ?? "rmm-server")
      .setAudience(opts.aud ?? "rmm-api");
    if (opts.sub !== null && opts.rawSub === undefined) jwt.setSubject(opts.sub ?? "alice");
    if (opts.iat !== null) jwt.setIssuedAt(opts.iat ?? now());
    if (opts.exp !== null) jwt.setExpirationTime(opts.exp ?? now() + 60);
    return jwt.sign(opts.key ?? secret);
  }

  async function call(authorization: string | undefined) {
    const client = createClient(TunnelService, createGrpcTransport({ baseUrl: ts.url }));
    return client.listAgents({}, authorization === undefined ? {} : { headers: { authorization } }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
  }

  const cases: Array<[string, () => Promise<string | undefined>, Code, RegExp]> = [
    ["no authorization header", async () => undefined, Code.Unauthenticated, /missing technician token/],
    [
      "a header that is not Bearer",
      async () => "Basic YWxpY2U6cHc=",
      Code.Unauthenticated,
      /expected "Bearer <token>"/,
    ],
    ["a token that is not a JWT", async () => "Bearer not-a-jwt", Code.Unauthenticated, /malformed/],
    [
      "a bad signature",
      async () => `Bearer ${await token({ key: new Uint8Array(32).fill(7) })}`,
      Code.Unauthenticated,
      /signature does not verify/,
    ],
    [
      "alg none",
      async () =>
        `Bearer ${b64({ alg: "none" })}.${b64({ sub: "alice", iss: "rmm-server", aud: "rmm-api", exp: now() + 60 })}.`,
      Code.Unauthenticated,
      /algorithm|malformed/,
    ],
    ["an expired token", async () => `Bearer ${await token({ exp: now() - 10 })}`, Code.Unauthenticated, /expired/],
    [
      "a token with no exp",
      async () => `Bearer ${await token({ exp: null })}`,
      Code.Unauthenticated,
      /claim "exp" is missing/,
    ],
    [
      "a token with no sub",
      async () => `Bearer ${await token({ sub: null })}`,
      Code.Unauthenticated,
      /claim "sub" is missing/,
    ],
    [
      "the wrong issuer",
      async () => `Bearer ${await token({ iss: "someone-else" })}`,
      Code.Unauthenticated,
      /claim "iss"/,
    ],
    [
      "the wrong audience",
      async () => `Bearer ${await token({ aud: "rmm-enroll" })}`,
      Code.Unauthenticated,
      /claim "aud"/,
    ],
    [
      "a token with no iat",
      async () => `Bearer ${await token({ iat: null })}`,
      Code.Unauthenticated,
      /claim "iat" is missing/,
    ],
    [
      "an empty sub",
      async () => `Bearer ${await token({ sub: "" })}`,
      Code.Unauthenticated,
      /claim "sub" must be a non-empty string/,
    ],
    [
      "a numeric sub",
      async () => `Bearer ${await token({ rawSub: 42 })}`,
      Code.Unauthenticated,
      /claim "sub" must be a non-empty string/,
    ],
    [
      "an iat in the future",
      async () => `Bearer ${await token({ iat: now() + 3_600, exp: now() + 7_200 })}`,
      Code.Unauthenticated,
      /issued in the future .*check the issuer's clock/,
    ],
    [
      "an exp a century away",
      async () => `Bearer ${await token({ exp: now() + 100 * 365 * 86_400 })}`,
      Code.Unauthenticated,
      /lives 876000 h, longer than this server's limit of 24 h \(--max-token-ttl\)/,
    ],
    [
      "a lifetime just past --max-token-ttl",
      async () => `Bearer ${await token({ exp: now() + 24 * 3_600 + 1 })}`,
      Code.Unauthenticated,
      /longer than this server's limit of 24 h/,
    ],
    ["an unknown role", async () => `Bearer ${await token({ role: "root" })}`, Code.PermissionDenied, /role "root"/],
  ];

  it.each(cases)("refuses %s", async (_name, header, code, message) => {
    const err = await call(await header());
    expect(err, "call should fail").toBeDefined();
    expect(Code[err!.code]).toBe(Code[code]);
    expect(err!.rawMessage).toMatch(message);
  });

  it("accepts a valid token and defaults its role to tech", async () => {
    expect(await call(`Bearer ${await token()}`)).toBeUndefined();
  });

  it("accepts an iat within the clock skew and a lifetime of exactly --max-token-ttl", async () => {
    expect(await call(`Bearer ${await token({ iat: now() + 30, exp: now() + 30 + 24 * 3_600 })}`)).toBeUndefined();
  });
});
