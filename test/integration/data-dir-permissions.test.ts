import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import SQLite from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../../common/logger.js";
import { startServer, type RunningServer } from "../../server/rmm-server.js";
import { defaultServerConfig } from "../../server/server-config.js";
import { FakeAgent } from "../support/fake-agent.js";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AgentService } from "../../gen/rmm/v1/agent_service_pb.js";

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

describe("the data dir", () => {
  let root: string;
  let server: RunningServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
    rmSync(root, { recursive: true, force: true });
  });

  async function start(dataDir: string): Promise<RunningServer> {
    server = await startServer(defaultServerConfig({ dataDir, port: 0 }), createLogger("test", "silent"));
    // A write, so SQLite has its -wal and -shm files.
    await FakeAgent.enroll(
      createClient(AgentService, createGrpcTransport({ baseUrl: server.url })),
      await server.issuer.mintEnrollment(60),
    );
    return server;
  }

  function expectPrivate(dataDir: string): void {
    expect(mode(dataDir)).toBe("700");
    const names = readdirSync(dataDir);
    expect(names).toEqual(expect.arrayContaining(["rmm.sqlite", "rmm.sqlite-wal", "rmm.sqlite-shm", "jwt-secret.key"]));
    for (const name of names) expect([name, mode(join(dataDir, name))]).toEqual([name, "600"]);
  }

  it("is created 0700 with every file in it 0600", async () => {
    root = mkdtempSync(join(tmpdir(), "rmm-perms-"));
    const dataDir = join(root, "data");
    await start(dataDir);
    expectPrivate(dataDir);
  });

  it("is tightened at start when an older server left it readable by everyone", async () => {
    root = mkdtempSync(join(tmpdir(), "rmm-perms-"));
    const dataDir = join(root, "data");
    await start(dataDir);
    await server!.close();
    server = undefined;
    // What a server before this check left behind.
    const sqlite = new SQLite(join(dataDir, "rmm.sqlite"));
    sqlite.pragma("journal_mode = WAL");
    writeFileSync(join(dataDir, "notes.txt"), "x");
    chmodSync(dataDir, 0o755);
    for (const name of readdirSync(dataDir)) chmodSync(join(dataDir, name), 0o644);
    sqlite.close();
    await start(dataDir);
    expectPrivate(dataDir);
  });
});
