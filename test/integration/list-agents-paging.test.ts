import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AGENT_INFO_LIMITS } from "../../server/services/agent-info-check.js";
import { AgentStore, openDatabase, parseDatabaseUrl, type Db } from "../../server/store/index.js";
import { createTestDatabase, type TestDatabase } from "../../testkit/test-databases.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/**
 * SQLite does not enforce varchar lengths, so a store written before every
 * hello was checked can hold megabyte hostnames; listings must survive them.
 */
describe("ListAgents over agents with oversized stored text", () => {
  let db: TestDatabase;
  let ts: TestServer;
  let store: Db;
  const ids = ["a1", "a2", "a3", "a4"].map((s) => `00000000-0000-4000-8000-0000000000${s}`);

  beforeAll(async () => {
    db = await createTestDatabase("sqlite");
    ts = await startTestServer(db.url);
    store = openDatabase(parseDatabaseUrl(db.url));
    const agents = new AgentStore(store);
    for (const id of ids)
      await agents.insert({
        id,
        hostname: "h".repeat(700_000),
        os: "o".repeat(100_000),
        agent_version: "v",
        capabilities: "[]",
        credential_hash: "0".repeat(64),
        enrolled_at: Date.now(),
        last_seen_at: null,
        revoked_at: null,
      });
  });
  afterAll(async () => {
    await store.destroy();
    await ts.dispose();
    await db.drop();
  });

  it("pages by size as well as count, and cuts each agent's text to the enrollment limits", async () => {
    const alice = await ts.technician("alice");
    const seen: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await alice.listAgents({ pageSize: 1_000, pageToken });
      pages++;
      for (const agent of page.agents) {
        seen.push(agent.id);
        expect(agent.hostname.length).toBe(AGENT_INFO_LIMITS.hostname);
        expect(agent.hostname).toMatch(/\[cut from 700000 chars\]$/);
        expect(agent.os.length).toBe(AGENT_INFO_LIMITS.os);
      }
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    expect(seen).toEqual(ids);
    // 800 kB of stored text each against a 1 MiB page budget: one agent per page.
    expect(pages).toBe(ids.length);
  });
});
