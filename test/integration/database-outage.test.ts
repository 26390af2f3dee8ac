import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../testkit/test-databases.js";
import { TcpProxy } from "../support/tcp-proxy.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

// SQLite lives in the server process and cannot become unreachable; this is MySQL's failure mode.
describe("when MySQL becomes unreachable", () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let ts: TestServer;

  beforeEach(async () => {
    db = await createTestDatabase("mysql");
    const url = new URL(db.url);
    proxy = new TcpProxy({ host: url.hostname, port: Number(url.port || 3306) });
    await proxy.start();
    url.port = String(proxy.port);
    ts = await startTestServer(url.toString());
  });
  afterEach(async () => {
    await proxy.restore().catch(() => undefined);
    await ts.dispose();
    await proxy.cut();
    await db.drop();
  });

  it("answers Unavailable while it is gone, keeps running, and recovers when it returns", async () => {
    const alice = await ts.technician("alice");
    expect((await alice.listAgents({})).agents).toEqual([]);

    await proxy.cut();
    const err = await alice.listAgents({}).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.Unavailable);
    expect(err?.rawMessage).toMatch(/database unavailable/);

    await proxy.restore();
    // The pool reconnects on demand: the next call after the database returns succeeds.
    let recovered = false;
    for (let attempt = 0; attempt < 50 && !recovered; attempt++) {
      recovered = await alice.listAgents({}).then(
        () => true,
        () => false,
      );
      if (!recovered) await new Promise((r) => setTimeout(r, 100));
    }
    expect(recovered).toBe(true);
  });
});
