import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Code, type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { downloadFile, uploadFile } from "../../client/file-transfer.js";
import { PARTIAL_MARKER } from "../../common/partial-file.js";
import { FileKind } from "../../gen/rmm/v1/file_pb.js";
import type { TunnelService } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { startFileSession, type FileSession } from "../support/file-session.js";
import { expectCode, writeRandomFile } from "../../testkit/file-fixtures.js";
import { SERVER_VARIANTS } from "../../testkit/server-variants.js";

/** The agent may write files of at most this size (prlimit --fsize): a disk that fills up at 1 MiB. */
const FSIZE_LIMIT = 1024 * 1024;
/** Root bypasses permission bits, so as root the agent runs as nobody for these tests. */
const NOBODY = { uid: 65534, gid: 65534 };
const isRoot = process.getuid?.() === 0;
const has = (tool: string) => spawnSync(tool, ["--version"]).status === 0;
/** util-linux's prlimit (and setpriv when root) simulate the full disk and the unprivileged agent; without them this suite cannot run honestly. */
const toolsMissing = !has("prlimit") || (isRoot && !has("setpriv"));

describe.each(SERVER_VARIANTS)("file transfer failures on the agent's side, on $label", ({ dialect, serverFlags }) => {
  let alice: Client<typeof TunnelService>;
  let sessionId: string;
  let root: string;
  let local: string;

  let session: FileSession;

  beforeAll(async () => {
    if (toolsMissing)
      throw new Error("these tests need prlimit and setpriv from util-linux (apt-get install util-linux)");
    session = await startFileSession(dialect, {
      prefix: "rmm-files-fail-",
      prepare: ({ work, root }) => {
        writeFileSync(join(root, "locked"), "no one may read this");
        mkdirSync(join(root, "read-only"));
        if (isRoot) {
          chmodSync(work, 0o755);
          for (const p of [root, join(root, "locked"), join(root, "read-only")]) chownSync(p, NOBODY.uid, NOBODY.gid);
        }
        chmodSync(join(root, "locked"), 0o000);
        chmodSync(join(root, "read-only"), 0o555);
      },
      rig: {
        agentWrapper: ["prlimit", `--fsize=${FSIZE_LIMIT}`],
        ...(isRoot && { agentUser: NOBODY }),
        serverExtra: serverFlags,
      },
    });
    ({ alice, sessionId, root, local } = session);
  });
  afterAll(() => session?.stop());

  async function expectSessionAlive(): Promise<void> {
    expect((await alice.stat({ sessionId, path: root })).info?.kind).toBe(FileKind.DIRECTORY);
  }

  it("refuses a file the agent may not read with PermissionDenied, leaving nothing locally", async () => {
    const dest = join(local, "locked");
    await expectCode(
      downloadFile(alice, { sessionId, remotePath: join(root, "locked"), localPath: dest }),
      Code.PermissionDenied,
      /permission denied/,
    );
    expect(existsSync(dest)).toBe(false);
    expect(readdirSync(local)).toEqual([]);
    await expectSessionAlive();
  });

  it("refuses an upload into a directory the agent may not write with PermissionDenied", async () => {
    const src = join(local, "up.src");
    writeRandomFile(src, 1000);
    await expectCode(
      uploadFile(alice, { sessionId, localPath: src, remotePath: join(root, "read-only", "f") }),
      Code.PermissionDenied,
      /cannot write in/,
    );
    expect(readdirSync(join(root, "read-only"))).toEqual([]);
    rmSync(src);
    await expectSessionAlive();
  });

  it("fails an upload that fills the disk with ResourceExhausted, leaving nothing at or beside the target", async () => {
    const src = join(local, "big.src");
    writeRandomFile(src, 3 * FSIZE_LIMIT);
    await expectCode(
      uploadFile(alice, { sessionId, localPath: src, remotePath: join(root, "big") }),
      Code.ResourceExhausted,
      /file too large|no space/,
    );
    expect(existsSync(join(root, "big"))).toBe(false);
    expect(readdirSync(root).filter((n) => n.includes(PARTIAL_MARKER))).toEqual([]);
    rmSync(src);
    await expectSessionAlive();
    // A file that fits still goes through on the same session.
    const small = join(local, "small.src");
    writeRandomFile(small, FSIZE_LIMIT / 2);
    await expect(
      uploadFile(alice, { sessionId, localPath: small, remotePath: join(root, "small") }),
    ).resolves.toMatchObject({ size: FSIZE_LIMIT / 2 });
  });
});
