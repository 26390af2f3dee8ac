import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { downloadFile, uploadFile } from "../../client/file-transfer.js";
import { createTechnicianClient } from "../../client/technician-client.js";
import { UploadRequestSchema, type TunnelService } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { FileTransferStore, openDatabase, parseDatabaseUrl, type Db } from "../../server/store/index.js";
import { startAgentRig, type AgentRig } from "../../testkit/agent-rig.js";
import { expectCode, fileSha256, writeRandomFile } from "../../testkit/file-fixtures.js";
import { DIALECTS } from "../../testkit/test-databases.js";

describe.each(DIALECTS)("file access under a --policy file on %s", (dialect) => {
  let rig: AgentRig;
  let alice: Client<typeof TunnelService>;
  let root: Client<typeof TunnelService>;
  let sessionId: string;
  let work: string;
  let files: string;
  let local: string;
  let db: Db;
  let transfers: FileTransferStore;

  const refusedRows = async () => (await transfers.forSession(sessionId)).filter((r) => r.outcome === "refused");

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "rmm-file-policy-"));
    files = join(work, "files");
    local = join(work, "local");
    mkdirSync(files);
    mkdirSync(local);
    writeFileSync(join(work, "beside-the-files"), "outside the role's paths");
    const policyFile = join(work, "policy.json");
    writeFileSync(
      policyFile,
      JSON.stringify({
        roles: {
          // tech reads under the files directory only; admin has no `files`, so under a policy it gets none.
          tech: { files: "read", paths: [`${files}/**`], rules: [] },
          admin: { terminal: true, rules: [{ name: "all", effect: "allow", program: "*" }] },
        },
      }),
    );
    rig = await startAgentRig(dialect, {
      agentExtra: ["--file-root", work],
      serverExtra: ["--policy", policyFile],
      logLevel: "info",
    });
    alice = createTechnicianClient(rig.url, await rig.mintToken("alice", "tech"));
    root = createTechnicianClient(rig.url, await rig.mintToken("root", "admin"));
    sessionId = (await alice.openTunnel({ agentId: rig.agentId })).session!.id;
    db = openDatabase(parseDatabaseUrl(rig.dbUrl));
    transfers = new FileTransferStore(db);
  }, 60_000);
  afterAll(async () => {
    await db?.destroy();
    await rig?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('lets a role with files "read" download inside its paths', async () => {
    const sha = writeRandomFile(join(files, "report.bin"), 10_000);
    const down = await downloadFile(alice, {
      sessionId,
      remotePath: join(files, "report.bin"),
      localPath: join(local, "report.bin"),
    });
    expect(down).toMatchObject({ size: 10_000, sha256: sha });
    expect(fileSha256(join(local, "report.bin"))).toBe(sha);
    expect((await alice.stat({ sessionId, path: files })).info).toBeDefined();
  });

  it("refuses that role an upload (PrepareUpload, Upload and MakeDirectory alike) before any channel opens, naming the role and setting, and audits it", async () => {
    const src = join(local, "upload.src");
    writeRandomFile(src, 100);
    await expectCode(
      uploadFile(alice, { sessionId, localPath: src, remotePath: join(files, "uploaded") }),
      Code.PermissionDenied,
      /role tech may not write files.*roles\.tech\.files.*"read"/,
    );

    // Straight to Upload, skipping PrepareUpload: refused the same way.
    const target = {
      path: join(files, "uploaded"),
      source: { size: 100n, modified: timestampFromMs(Date.now()) },
      overwrite: false,
      createParents: false,
      mode: 0,
    };
    async function* requests() {
      yield create(UploadRequestSchema, { kind: { case: "start", value: { sessionId, target, offset: 0n } } });
    }
    await expectCode(alice.upload(requests()), Code.PermissionDenied, /roles\.tech\.files/);
    await expectCode(
      alice.makeDirectory({ sessionId, directory: { path: join(files, "made"), createParents: true } }),
      Code.PermissionDenied,
      /role tech may not write files.*roles\.tech\.files/,
    );
    expect(existsSync(join(files, "made"))).toBe(false);

    const rows = await refusedRows();
    expect(rows.map((r) => r.operation)).toEqual(
      expect.arrayContaining(["prepare_upload", "upload", "make_directory"]),
    );
    expect(rows.find((r) => r.operation === "upload")).toMatchObject({
      technician: "alice",
      agent_id: rig.agentId,
      path: join(files, "uploaded"),
      reason: expect.stringContaining("PermissionDenied"),
    });
  });

  it("refuses that role a read outside its paths, judged after resolving ..", async () => {
    const sneaky = join(files, "..", "beside-the-files");
    await expectCode(
      downloadFile(alice, { sessionId, remotePath: sneaky, localPath: join(local, "beside") }),
      Code.PermissionDenied,
      /roles\.tech\.paths/,
    );
    const row = (await refusedRows()).at(-1);
    expect(row).toMatchObject({ operation: "download", path: join(work, "beside-the-files"), outcome: "refused" });
  });

  it("refuses that role a read through a symlink inside its paths that leads outside them: the agent judges the real path", async () => {
    // Inside the agent's --file-root, so only the role's paths, checked on the agent, can refuse it.
    symlinkSync(join(work, "beside-the-files"), join(files, "innocent-link"));
    symlinkSync(work, join(files, "dir-link"));
    await expectCode(
      downloadFile(alice, { sessionId, remotePath: join(files, "innocent-link"), localPath: join(local, "link") }),
      Code.PermissionDenied,
      /resolves to .*beside-the-files, which matches none of the paths the technician's role may touch/,
    );
    await expectCode(
      alice.stat({ sessionId, path: join(files, "dir-link", "beside-the-files") }),
      Code.PermissionDenied,
      /matches none of the paths/,
    );
    // Both are audited as refused, under the path asked for.
    expect((await refusedRows()).slice(-2).map((r) => [r.operation, r.path])).toEqual([
      ["download", join(files, "innocent-link")],
      ["stat", join(files, "dir-link", "beside-the-files")],
    ]);
    // A symlink that stays inside the paths is followed as before.
    symlinkSync(join(files, "report.bin"), join(files, "good-link"));
    expect((await alice.stat({ sessionId, path: join(files, "good-link") })).info?.path).toBe(
      join(files, "report.bin"),
    );
  });

  it("refuses a role without files even a stat, and audits it as refused", async () => {
    const before = (await refusedRows()).length;
    await expectCode(
      root.stat({ sessionId, path: files }),
      Code.PermissionDenied,
      /role admin may not read files.*roles\.admin\.files.*"none"/,
    );
    const rows = await refusedRows();
    expect(rows).toHaveLength(before + 1);
    expect(rows.at(-1)).toMatchObject({ technician: "root", operation: "stat", path: files, outcome: "refused" });
    // The session carries on for what is allowed.
    expect((await alice.stat({ sessionId, path: files })).info).toBeDefined();
  });
});
