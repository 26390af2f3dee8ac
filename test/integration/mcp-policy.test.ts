import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TokenIssuer } from "../../server/auth/token-issuer.js";
import { openDatabase, parseDatabaseUrl, type Db } from "../../server/store/index.js";
import { callError, callOk, connectMcp, disconnectMcp, TEST_VIA } from "../support/mcp-clients.js";
import { createTestDatabase, DIALECTS, type TestDatabase } from "../../testkit/test-databases.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

describe.each(DIALECTS)("a role whose policy says mcp: false, on %s", (dialect) => {
  let database: TestDatabase;
  let server: TestServer;
  let db: Db;
  let work: string;
  let techToken: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "rmm-mcp-policy-"));
    const policyFile = join(work, "policy.json");
    writeFileSync(
      policyFile,
      JSON.stringify({
        roles: {
          tech: { mcp: false, files: "read", rules: [{ name: "all", effect: "allow", program: "*" }] },
          admin: { mcp: true, rules: [{ name: "all", effect: "allow", program: "*" }] },
        },
      }),
    );
    database = await createTestDatabase(dialect);
    server = await startTestServer(database.url, { policyFile });
    db = openDatabase(parseDatabaseUrl(database.url));
    techToken = await server.server.issuer.mintTechnician("bob", "tech", 600);
  });
  afterAll(async () => {
    await db?.destroy();
    await server?.dispose();
    await database?.drop();
    rmSync(work, { recursive: true, force: true });
  });

  const refusals = () =>
    db
      .selectFrom("audit_events")
      .selectAll()
      .where("action", "=", "mcp.refused")
      .where("actor", "=", "tech:bob")
      .execute();

  it("gets 403 from /mcp, and the refusal is audited", async () => {
    const res = await fetch(`${server.url}/mcp`, {
      method: "POST",
      headers: { authorization: `Bearer ${techToken}`, "content-type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({
      error_description: "role tech has no MCP access (policy roles.tech.mcp is false)",
    });
    expect((await refusals()).some((r) => r.outcome === "refused" && /POST \/mcp/.test(r.reason ?? ""))).toBe(true);
  });

  it("gets a tool error through rmm mcp, the session carries on, and each refusal is audited with via", async () => {
    const client = await connectMcp("stdio", { url: server.url, token: techToken, configHome: work });
    try {
      expect(await callError(client, "list_agents", {})).toBe(
        "refused by the server's policy for this technician: role tech has no MCP access (policy roles.tech.mcp is false)",
      );
      expect(await callError(client, "list_agents", { online_only: true })).toMatch(/no MCP access/);
      const rows = (await refusals()).filter((r) => r.via === TEST_VIA);
      expect(rows.map((r) => r.reason)).toEqual([
        "ListAgents: role tech has no MCP access (policy roles.tech.mcp is false)",
        "ListAgents: role tech has no MCP access (policy roles.tech.mcp is false)",
      ]);
    } finally {
      await disconnectMcp(client);
    }
  });

  it("answers a token the server rejects with a tool error saying to sign in again", async () => {
    const forged = await new TokenIssuer(new Uint8Array(32).fill(7), "rmm-server", "rmm-api").mintTechnician(
      "bob",
      "admin",
      600,
    );
    const client = await connectMcp("stdio", { url: server.url, token: forged, configHome: work });
    try {
      expect(await callError(client, "list_agents", {})).toMatch(
        /^the technician's token was refused; sign in again \(rmm login\) or use a fresh token: /,
      );
    } finally {
      await disconnectMcp(client);
    }
  });

  it("lets a role with mcp: true through", async () => {
    const admin = await connectMcp("http", {
      url: server.url,
      token: await server.server.issuer.mintTechnician("carol", "admin", 600),
      configHome: work,
    });
    try {
      expect(await callOk(admin, "list_agents", {})).toEqual({ agents: [], count: 0 });
    } finally {
      await disconnectMcp(admin);
    }
  });
});

describe("rmm mcp with the server out of reach", () => {
  let work: string;
  let port: number;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "rmm-mcp-down-"));
    // A port that was just free: nothing listens there.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    port = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("answers each call with a tool error that says the server cannot be reached, and keeps serving", async () => {
    const token = await new TokenIssuer(new Uint8Array(32), "rmm-server", "rmm-api").mintTechnician("dan", "tech", 600);
    const client = await connectMcp("stdio", { url: `http://127.0.0.1:${port}`, token, configHome: work });
    try {
      expect(await callError(client, "list_agents", {})).toMatch(/^cannot reach the rmm server .*is it running/);
      expect(await callError(client, "stat", { agent: "a", path: "/" })).toMatch(/^cannot reach the rmm server/);
      expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    } finally {
      await disconnectMcp(client);
    }
  });
});
