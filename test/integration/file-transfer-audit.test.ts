import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uploadFile } from "../../client/file-transfer.js";
import { SERVER_STOPPED_REASON } from "../../server/services/file-transfer-log.js";
import { FileTransferStore, openDatabase, parseDatabaseUrl, type Db } from "../../server/store/index.js";
import { startFileSession, type FileSession } from "../support/file-session.js";
import { writeRandomFile } from "../../testkit/file-fixtures.js";
import { startServerProcess } from "../../testkit/managed-process.js";
import { DIALECTS } from "../../testkit/test-databases.js";
import { until } from "../support/until.js";

describe.each(DIALECTS)("the file transfer trail when the server is killed mid-transfer, on %s", (dialect) => {
  let session: FileSession;
  let db: Db;

  beforeAll(async () => {
    session = await startFileSession(dialect, { prefix: "rmm-files-audit-" });
    db = openDatabase(parseDatabaseUrl(session.rig.dbUrl));
  }, 60_000);
  afterAll(async () => {
    await db?.destroy();
    await session?.stop();
  });

  it("has the upload's row from its start, running, and the next server start marks it failed", async () => {
    const { rig, alice, sessionId, local, root } = session;
    const transfers = new FileTransferStore(db);
    const src = join(local, "cut");
    writeRandomFile(src, 32 * 1024 * 1024);
    let killed = false;
    await expect(
      uploadFile(alice, {
        sessionId,
        localPath: src,
        remotePath: join(root, "cut"),
        onProgress: (p) => {
          if (!killed && p.transferred >= 8 * 1024 * 1024) {
            killed = true;
            rig.server.proc.signal("SIGKILL");
          }
        },
      }),
    ).rejects.toThrow();
    await rig.server.proc.exited;
    expect((await transfers.forSession(sessionId)).map((r) => [r.operation, r.outcome])).toEqual([
      ["upload", "running"],
    ]);

    const next = await startServerProcess({ dataDir: rig.serverDir, db: rig.dbUrl });
    try {
      await until(
        async () => (await transfers.forSession(sessionId))[0]?.outcome === "failed",
        "the next server start to mark the upload failed",
      );
      expect((await transfers.forSession(sessionId))[0]).toMatchObject({
        operation: "upload",
        path: join(root, "cut"),
        size: 32 * 1024 * 1024,
        reason: SERVER_STOPPED_REASON,
      });
    } finally {
      await next.proc.stop();
    }
  });
});
