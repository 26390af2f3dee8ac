import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { Code, ConnectError } from "@connectrpc/connect";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTechnicianClient } from "../../client/technician-client.js";
import { openDatabase, parseDatabaseUrl } from "../../server/store/index.js";
import { createTestDatabase, DIALECTS, type TestDatabase } from "../../testkit/test-databases.js";
import { startTestServer, type TestServer } from "../support/test-server.js";
import { until } from "../support/until.js";

const run = promisify(execFile);
const MAIN = resolve("dist/server/main.js");

describe.each(DIALECTS)("technician token revocation on %s", (dialect) => {
  let db: TestDatabase;
  let ts: TestServer;
  const rmmServer = (args: string[]) =>
    run(process.execPath, [MAIN, ...args, "--data-dir", ts.config.dataDir, "--db", db.url], {
      env: { ...process.env, RMM_LOG_LEVEL: "silent" },
    });

  beforeAll(async () => {
    db = await createTestDatabase(dialect);
    ts = await startTestServer(db.url);
  });
  afterAll(async () => {
    await ts.dispose();
    await db.drop();
  });

  const refusal = (token: string) =>
    createTechnicianClient(ts.url, token)
      .listAgents({})
      .then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );

  it("refuses one token by its jti, within the refresh, even while its verification is cached", async () => {
    const token = await ts.server.issuer.mintTechnician("alice", "tech", 600);
    const other = await ts.server.issuer.mintTechnician("alice", "tech", 600);
    expect(await refusal(token)).toBeUndefined();
    const { jti } = decodeJwt(token);
    const { stdout } = await rmmServer(["revoke-token", "--jti", String(jti), "--reason", "leaked in a ticket"]);
    expect(stdout.trim()).toBe(`revoked token ${jti}`);
    await until(async () => (await refusal(token)) !== undefined, "the revoked token to be refused");
    const err = (await refusal(token))!;
    expect(Code[err.code]).toBe(Code[Code.Unauthenticated]);
    expect(err.rawMessage).toMatch(new RegExp(`this token \\(jti ${jti}\\) was revoked at `));
    expect(await refusal(other)).toBeUndefined();
  });

  it("refuses every token of a subject issued before a time, and none issued after", async () => {
    const old = await ts.server.issuer.mintTechnician("bob", "admin", 600);
    const carol = await ts.server.issuer.mintTechnician("carol", "tech", 600);
    // iat has one-second resolution: a cut-off two seconds ahead covers the token just minted.
    const before = new Date((Math.floor(Date.now() / 1000) + 2) * 1000).toISOString();
    await rmmServer(["revoke-token", "--sub", "bob", "--before", before]);
    await until(async () => (await refusal(old)) !== undefined, "bob's old token to be refused");
    expect((await refusal(old))!.rawMessage).toMatch(/tokens of bob issued before .* have been revoked/);
    expect(await refusal(carol)).toBeUndefined();
    const store = openDatabase(parseDatabaseUrl(db.url));
    try {
      const rows = await store.selectFrom("audit_events").selectAll().where("action", "=", "token.revoke").execute();
      expect(rows.map((r) => r.reason)).toEqual([
        expect.stringMatching(/^token .* revoked by .*: leaked in a ticket$/),
        expect.stringMatching(/^tokens of bob issued before .* revoked by /),
      ]);
    } finally {
      await store.destroy();
    }
  });

  it("says what is wrong with a bad revoke-token call", async () => {
    await expect(rmmServer(["revoke-token"])).rejects.toMatchObject({
      stderr: expect.stringMatching(/one of --jti or --sub/),
    });
    await expect(rmmServer(["revoke-token", "--sub", "x", "--before", "tuesday"])).rejects.toMatchObject({
      stderr: expect.stringMatching(/not an ISO 8601 time/),
    });
  });

  it("mints no token longer than --max-token-ttl", async () => {
    await expect(rmmServer(["token", "--sub", "alice", "--ttl", "25h"])).rejects.toMatchObject({
      stderr: "rmm-server: --ttl 25h is longer than --max-token-ttl 24h: the server would refuse the token\n",
    });
    const { stdout } = await rmmServer(["token", "--sub", "alice", "--ttl", "48h", "--max-token-ttl", "48h"]);
    expect(stdout.trim().split(".")).toHaveLength(3);
  });
});
