import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import { Code, type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { downloadFile, uploadFile } from "../../client/file-transfer.js";
import { ChannelClient } from "../../client/channel-client.js";
import { FILE_CHUNK_BYTES } from "../../common/file-chunks.js";
import { PARTIAL_MARKER } from "../../common/partial-file.js";
import { ChannelType } from "../../gen/rmm/v1/frame_pb.js";
import { FileKind } from "../../gen/rmm/v1/file_pb.js";
import type { TunnelService } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { FileTransferStore, openDatabase, parseDatabaseUrl } from "../../server/store/index.js";
import type { AgentRig } from "../../testkit/agent-rig.js";
import { startFileSession, type FileSession } from "../support/file-session.js";
import { expectCode, fileSha256, writeRandomFile } from "../../testkit/file-fixtures.js";
import { SERVER_VARIANTS } from "../../testkit/server-variants.js";
import { until } from "../support/until.js";

/** Largest transfer this rig's server allows, so the limit is testable without gigabytes. */
const LIMIT_BYTES = 64 * 1024 * 1024;

describe.each(SERVER_VARIANTS)("file transfer through a real server and agent on $label", (variant) => {
  const { dialect, serverFlags } = variant;
  let rig: AgentRig;
  let alice: Client<typeof TunnelService>;
  let sessionId: string;
  let work: string;
  let root: string;
  let outside: string;
  let local: string;

  let session: FileSession;

  beforeAll(async () => {
    session = await startFileSession(dialect, {
      prefix: "rmm-files-",
      prepare: ({ work, root }) => {
        mkdirSync(join(work, "outside"));
        writeFileSync(join(work, "outside", "secret"), "not for technicians");
        symlinkSync(join(work, "outside"), join(root, "link-out"));
      },
      rig: { serverExtra: ["--max-transfer-bytes", String(LIMIT_BYTES), ...serverFlags] },
    });
    ({ rig, alice, sessionId, work, root, local } = session);
    outside = join(work, "outside");
  });
  afterAll(() => session?.stop());

  async function expectSessionAlive(): Promise<void> {
    const res = await alice.stat({ sessionId, path: root });
    expect(res.info?.kind).toBe(FileKind.DIRECTORY);
  }

  async function roundTrip(name: string, size: number): Promise<void> {
    const src = join(local, `${name}.src`);
    const back = join(local, `${name}.back`);
    const sha = writeRandomFile(src, size);
    const up = await uploadFile(alice, { sessionId, localPath: src, remotePath: join(root, name) });
    expect(up).toMatchObject({ size, sha256: sha, resumedFrom: 0 });
    expect(fileSha256(join(root, name))).toBe(sha);
    const down = await downloadFile(alice, { sessionId, remotePath: join(root, name), localPath: back });
    expect(down).toMatchObject({ size, sha256: sha, resumedFrom: 0 });
    expect(fileSha256(back)).toBe(sha);
  }

  it("round-trips an empty file, a file of exactly one chunk, and one a byte past it, verified by hash", async () => {
    await roundTrip("empty", 0);
    await roundTrip("one-chunk", FILE_CHUNK_BYTES);
    await roundTrip("one-chunk-plus", FILE_CHUNK_BYTES + 1);
    await roundTrip("several", 3 * 1024 * 1024 + 7);
    // Nothing temporary is left beside the targets or the local copies.
    expect(readdirSync(root).filter((n) => n.includes(PARTIAL_MARKER))).toEqual([]);
    expect(readdirSync(local).filter((n) => n.includes(PARTIAL_MARKER))).toEqual([]);
  });

  it("uploads with the requested mode, creating parent directories only when asked", async () => {
    const src = join(local, "moded");
    writeRandomFile(src, 100);
    await expectCode(
      uploadFile(alice, { sessionId, localPath: src, remotePath: join(root, "new", "dir", "f") }),
      Code.NotFound,
      /does not exist: create it or set create_parents/,
    );
    expect(existsSync(join(root, "new"))).toBe(false);
    const up = await uploadFile(alice, {
      sessionId,
      localPath: src,
      remotePath: join(root, "new", "dir", "f"),
      createParents: true,
      mode: 0o600,
    });
    expect(up.size).toBe(100);
    const info = (await alice.stat({ sessionId, path: join(root, "new", "dir", "f") })).info!;
    expect(info).toMatchObject({ kind: FileKind.FILE, size: 100n, mode: 0o600, name: "f" });
  });

  it("makes directories as mkdir does: parents only when asked, one already there is fine, a file in the way is not", async () => {
    const make = (path: string, createParents = false, mode = 0) =>
      alice.makeDirectory({ sessionId, directory: { path, createParents, mode } });
    await expectCode(
      make(join(root, "md", "a", "b")),
      Code.NotFound,
      /does not exist: create it or set create_parents/,
    );
    expect(existsSync(join(root, "md"))).toBe(false);
    const made = (await make(join(root, "md", "a", "b"), true, 0o700)).info!;
    expect(made).toMatchObject({ kind: FileKind.DIRECTORY, path: join(root, "md", "a", "b"), name: "b" });
    expect(statSync(join(root, "md", "a", "b")).mode & 0o777).toBe(0o700 & ~process.umask());
    // Already there: success, as mkdir -p; and without create_parents under an existing parent.
    expect((await make(join(root, "md", "a", "b"))).info?.kind).toBe(FileKind.DIRECTORY);
    expect((await make(join(root, "md", "c"))).info?.kind).toBe(FileKind.DIRECTORY);
    writeFileSync(join(root, "md", "file"), "x");
    await expectCode(make(join(root, "md", "file")), Code.AlreadyExists, /already exists and is not a directory/);
    await expectCode(make(join(root, "link-out", "planted"), true), Code.PermissionDenied, /outside/);
    expect(existsSync(join(outside, "planted"))).toBe(false);
    await expectCode(make("relative/dir"), Code.InvalidArgument, /directory\.path "relative\/dir" is not absolute/);
    await expectCode(make(join(root, "md", "m"), false, 0o17777), Code.InvalidArgument, /not a permission mode/);
    await expectCode(alice.makeDirectory({ sessionId }), Code.InvalidArgument, /directory is missing/);
    const db = openDatabase(parseDatabaseUrl(rig.dbUrl));
    try {
      const rows = (await new FileTransferStore(db).forSession(sessionId)).filter(
        (r) => r.operation === "make_directory",
      );
      expect(rows.filter((r) => r.outcome === "ok").map((r) => r.path)).toEqual(
        expect.arrayContaining([join(root, "md", "a", "b"), join(root, "md", "c")]),
      );
      expect(rows.find((r) => r.outcome === "refused")).toMatchObject({ technician: "alice", agent_id: rig.agentId });
    } finally {
      await db.destroy();
    }
    await expectSessionAlive();
  });

  it("streams a directory of 5,000 entries in batches", async () => {
    const big = join(root, "big");
    mkdirSync(big);
    for (let i = 0; i < 5_000; i++) writeFileSync(join(big, `f${String(i).padStart(5, "0")}`), "");
    let batches = 0;
    const names = new Set<string>();
    for await (const batch of alice.listDirectory({ sessionId, path: big })) {
      batches += 1;
      expect(batch.entries.length).toBeGreaterThan(0);
      for (const e of batch.entries) names.add(e.name);
    }
    expect(names.size).toBe(5_000);
    expect(batches).toBeGreaterThanOrEqual(10);
    // An empty directory is an empty stream.
    mkdirSync(join(root, "empty-dir"));
    const empty: unknown[] = [];
    for await (const batch of alice.listDirectory({ sessionId, path: join(root, "empty-dir") }))
      empty.push(...batch.entries);
    expect(empty).toEqual([]);
  });

  it("respects no-overwrite on both ends and replaces only when asked", async () => {
    const src = join(local, "ow.src");
    const remote = join(root, "ow");
    writeFileSync(remote, "original");
    const sha = writeRandomFile(src, 5_000);
    await expectCode(
      uploadFile(alice, { sessionId, localPath: src, remotePath: remote }),
      Code.AlreadyExists,
      /set overwrite/,
    );
    expect(readFileSync(remote, "utf8")).toBe("original");
    await uploadFile(alice, { sessionId, localPath: src, remotePath: remote, overwrite: true });
    expect(fileSha256(remote)).toBe(sha);

    const dest = join(local, "ow.dest");
    writeFileSync(dest, "mine");
    await expectCode(
      downloadFile(alice, { sessionId, remotePath: remote, localPath: dest }),
      Code.AlreadyExists,
      /overwrite/,
    );
    expect(readFileSync(dest, "utf8")).toBe("mine");
    await downloadFile(alice, { sessionId, remotePath: remote, localPath: dest, overwrite: true });
    expect(fileSha256(dest)).toBe(sha);
  });

  it("refuses path escapes (.., absolute paths outside the roots, symlinks pointing out) and audits the refusals", async () => {
    const src = join(local, "esc.src");
    writeRandomFile(src, 10);
    const escapes = [
      join(root, "..", "outside", "secret"),
      join(outside, "secret"),
      "/etc/passwd",
      join(root, "link-out", "secret"),
    ];
    for (const path of escapes) {
      await expectCode(alice.stat({ sessionId, path }), Code.PermissionDenied, /outside this agent's file roots/);
      await expectCode(
        downloadFile(alice, { sessionId, remotePath: path, localPath: join(local, "esc.dest") }),
        Code.PermissionDenied,
        /outside/,
      );
      await expectCode(
        alice
          .listDirectory({ sessionId, path: join(path, "..") })
          [Symbol.asyncIterator]()
          .next(),
        Code.PermissionDenied,
      );
    }
    await expectCode(
      uploadFile(alice, { sessionId, localPath: src, remotePath: join(root, "link-out", "planted") }),
      Code.PermissionDenied,
      /outside/,
    );
    await expectCode(
      uploadFile(alice, { sessionId, localPath: src, remotePath: join(root, "..", "planted") }),
      Code.PermissionDenied,
      /outside/,
    );
    expect(existsSync(join(outside, "planted"))).toBe(false);
    expect(existsSync(join(work, "planted"))).toBe(false);
    expect(existsSync(join(local, "esc.dest"))).toBe(false);
    await expectCode(alice.stat({ sessionId, path: "relative/path" }), Code.InvalidArgument, /not absolute/);
    // The agent's own credential is never served, whatever the roots.
    const db = openDatabase(parseDatabaseUrl(rig.dbUrl));
    try {
      const rows = await new FileTransferStore(db).forSession(sessionId);
      const refused = rows.filter((r) => r.outcome === "refused" && r.reason?.startsWith("PermissionDenied"));
      expect(refused.map((r) => r.operation)).toEqual(
        expect.arrayContaining(["stat", "download", "list", "prepare_upload"]),
      );
      expect(refused[0]).toMatchObject({
        technician: "alice",
        agent_id: rig.agentId,
        reason: expect.stringMatching(/PermissionDenied/),
      });
      const ok = rows.filter((r) => r.outcome === "ok" && r.operation === "upload");
      expect(ok.length).toBeGreaterThan(0);
      expect(ok[0]).toMatchObject({ sha256: expect.stringMatching(/^[0-9a-f]{64}$/), size: expect.any(Number) });
    } finally {
      await db.destroy();
    }
    await expectSessionAlive();
  });

  it("detects a corrupted chunk in an upload with DataLoss and leaves the target untouched", async () => {
    const remote = join(root, "corrupt");
    writeFileSync(remote, "the old version");
    const data = randomBytes(200_000);
    const digest = createHash("sha256").update(data).digest();
    // One bit flipped in the second chunk, after the sender hashed the original.
    const sent = Buffer.from(data);
    sent[FILE_CHUNK_BYTES + 5]! ^= 0x01;
    const target = {
      path: remote,
      overwrite: true,
      source: { size: BigInt(data.length), modifyTime: { seconds: 1n, nanos: 0 } },
    };
    await alice.prepareUpload({ sessionId, target });
    async function* requests() {
      yield { kind: { case: "start" as const, value: { sessionId, target, offset: 0n } } };
      for (let i = 0; i < sent.length; i += FILE_CHUNK_BYTES)
        yield { kind: { case: "chunk" as const, value: sent.subarray(i, i + FILE_CHUNK_BYTES) } };
      yield { kind: { case: "sha256" as const, value: digest } };
    }
    await expectCode(alice.upload(requests()), Code.DataLoss, /SHA-256 mismatch/);
    expect(readFileSync(remote, "utf8")).toBe("the old version");
    expect(readdirSync(root).filter((n) => n.includes(PARTIAL_MARKER))).toEqual([]);
    await expectSessionAlive();
  });

  it("detects corrupted bytes held from an interrupted download, discards them, and leaves the destination absent", async () => {
    const remote = join(root, "dl-corrupt");
    writeRandomFile(remote, 8 * 1024 * 1024);
    const dest = join(local, "dl-corrupt");
    const abort = new AbortController();
    await expectCode(
      downloadFile(alice, {
        sessionId,
        remotePath: remote,
        localPath: dest,
        signal: abort.signal,
        onProgress: (p) => p.transferred >= 2 * 1024 * 1024 && abort.abort(),
      }),
      Code.Canceled,
    );
    const partial = join(local, `.dl-corrupt${PARTIAL_MARKER}`);
    const held = readFileSync(partial);
    held[100] = held[100]! ^ 0xff;
    writeFileSync(partial, held);
    await expectCode(
      downloadFile(alice, { sessionId, remotePath: remote, localPath: dest }),
      Code.DataLoss,
      /SHA-256 mismatch/,
    );
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(partial)).toBe(false);
    // Starting over now succeeds.
    const again = await downloadFile(alice, { sessionId, remotePath: remote, localPath: dest });
    expect(again.resumedFrom).toBe(0);
    expect(fileSha256(dest)).toBe(fileSha256(remote));
  });

  it("resumes a download cancelled halfway from the bytes held, byte-identical, on the same session", async () => {
    const remote = join(root, "dl-resume");
    const sha = writeRandomFile(remote, 16 * 1024 * 1024);
    const dest = join(local, "dl-resume");
    const abort = new AbortController();
    await expectCode(
      downloadFile(alice, {
        sessionId,
        remotePath: remote,
        localPath: dest,
        signal: abort.signal,
        onProgress: (p) => p.transferred >= 8 * 1024 * 1024 && abort.abort(),
      }),
      Code.Canceled,
    );
    expect(existsSync(dest)).toBe(false);
    const res = await downloadFile(alice, { sessionId, remotePath: remote, localPath: dest });
    expect(res.resumedFrom).toBeGreaterThanOrEqual(8 * 1024 * 1024);
    expect(res.sha256).toBe(sha);
    expect(fileSha256(dest)).toBe(sha);
    // Both calls are in the trail: the cut one as cancelled, the resumed one with its offset and hash.
    const db = openDatabase(parseDatabaseUrl(rig.dbUrl));
    try {
      const rows = (await new FileTransferStore(db).forSession(sessionId)).filter((r) => r.path === remote);
      expect(rows.map((r) => [r.operation, r.outcome])).toEqual([
        ["download", "cancelled"],
        ["download", "ok"],
      ]);
      expect(rows[1]).toMatchObject({
        size: 16 * 1024 * 1024,
        resumed_from: res.resumedFrom,
        bytes_transferred: 16 * 1024 * 1024 - res.resumedFrom,
        sha256: sha,
      });
    } finally {
      await db.destroy();
    }
  });

  it("restarts a download from 0 when the remote file changed since the first part", async () => {
    const remote = join(root, "dl-changed");
    writeRandomFile(remote, 4 * 1024 * 1024);
    const dest = join(local, "dl-changed");
    const abort = new AbortController();
    await expectCode(
      downloadFile(alice, {
        sessionId,
        remotePath: remote,
        localPath: dest,
        signal: abort.signal,
        onProgress: (p) => p.transferred >= 1024 * 1024 && abort.abort(),
      }),
      Code.Canceled,
    );
    const sha = writeRandomFile(remote, 3 * 1024 * 1024);
    const res = await downloadFile(alice, { sessionId, remotePath: remote, localPath: dest });
    expect(res).toMatchObject({ resumedFrom: 0, sha256: sha });
    expect(fileSha256(dest)).toBe(sha);
  });

  it("resumes an upload whose call was cancelled halfway, on the same session", async () => {
    const src = join(local, "up-cancel");
    const sha = writeRandomFile(src, 16 * 1024 * 1024);
    const remote = join(root, "up-cancel");
    const abort = new AbortController();
    await expectCode(
      uploadFile(alice, {
        sessionId,
        localPath: src,
        remotePath: remote,
        signal: abort.signal,
        onProgress: (p) => p.transferred >= 8 * 1024 * 1024 && abort.abort(),
      }),
      Code.Canceled,
    );
    expect(existsSync(remote)).toBe(false);
    // Asked at once: the agent finishes writing what arrived before the cancel, then answers.
    const held = (
      await alice.prepareUpload({
        sessionId,
        target: {
          path: remote,
          source: { size: 16n * 1024n * 1024n, modifyTime: timestampFromMs(Math.trunc(statSync(src).mtimeMs)) },
        },
      })
    ).offset;
    expect(held).toBeGreaterThan(0n);
    const res = await uploadFile(alice, { sessionId, localPath: src, remotePath: remote });
    expect(res).toMatchObject({ resumedFrom: Number(held), sha256: sha });
    expect(fileSha256(remote)).toBe(sha);
  });

  it("resumes an upload cut by the agent dying halfway, byte-identical, without a half-written target", async () => {
    const src = join(local, "up-resume");
    const sha = writeRandomFile(src, 32 * 1024 * 1024);
    const remote = join(root, "up-resume");
    let killed = false;
    await expect(
      uploadFile(alice, {
        sessionId,
        localPath: src,
        remotePath: remote,
        onProgress: (p) => {
          if (!killed && p.transferred >= 16 * 1024 * 1024) {
            killed = true;
            rig.agent.signal("SIGKILL");
          }
        },
      }),
    ).rejects.toThrow();
    expect(existsSync(remote)).toBe(false);
    await rig.restartAgent();
    await until(
      async () => (await alice.getTunnelStatus({ sessionId })).session?.state === 3,
      "the old session to close",
    );
    sessionId = (await alice.openTunnel({ agentId: rig.agentId })).session!.id;
    // A different version of the source holds nothing.
    const other = await alice.prepareUpload({
      sessionId,
      target: { path: remote, source: { size: 32n * 1024n * 1024n, modifyTime: { seconds: 12345n, nanos: 0 } } },
    });
    expect(other.offset).toBe(0n);
    // Left by an upload of an older version that never resumed: cleared once the target is in place.
    writeFileSync(join(root, `.up-resume${PARTIAL_MARKER}-1-1`), "x");
    const res = await uploadFile(alice, { sessionId, localPath: src, remotePath: remote });
    expect(res.resumedFrom).toBeGreaterThan(0);
    expect(res.sha256).toBe(sha);
    expect(fileSha256(remote)).toBe(sha);
    expect(readdirSync(root).filter((n) => n.includes(PARTIAL_MARKER))).toEqual([]);
  });

  it("answers bad input with the right code, and the session survives each", async () => {
    const src = join(local, "bad.src");
    writeRandomFile(src, 1000);
    await expectCode(alice.stat({ sessionId, path: join(root, "missing") }), Code.NotFound, /no such file/);
    await expectSessionAlive();
    await expectCode(
      downloadFile(alice, { sessionId, remotePath: join(root, "missing"), localPath: join(local, "m") }),
      Code.NotFound,
    );
    expect(existsSync(join(local, "m"))).toBe(false);
    await expectSessionAlive();
    await expectCode(
      downloadFile(alice, { sessionId, remotePath: root, localPath: join(local, "d") }),
      Code.FailedPrecondition,
      /is a directory/,
    );
    await expectSessionAlive();
    mkdirSync(join(root, "a-dir"), { recursive: true });
    await expectCode(
      uploadFile(alice, { sessionId, localPath: src, remotePath: join(root, "a-dir") }),
      Code.FailedPrecondition,
      /is a directory/,
    );
    await expectSessionAlive();
    writeFileSync(join(root, "plain"), "a file");
    await expectCode(
      alice
        .listDirectory({ sessionId, path: join(root, "plain") })
        [Symbol.asyncIterator]()
        .next(),
      Code.FailedPrecondition,
      /not a directory/,
    );
    await expectSessionAlive();
    // A path through a regular file is the caller's mistake, not an agent fault (Internal).
    await expectCode(
      alice.stat({ sessionId, path: join(root, "plain", "x") }),
      Code.FailedPrecondition,
      /plain\/x: a parent is not a directory/,
    );
    await expectCode(
      uploadFile(alice, { sessionId, localPath: src, remotePath: join(root, "plain", "x") }),
      Code.FailedPrecondition,
      /plain\/x: a parent is not a directory/,
    );
    await expectSessionAlive();
    // An offset past the end of the file, and past what the agent holds.
    writeFileSync(join(root, "small"), "12345");
    await expectCode(
      (async () => {
        for await (const _ of alice.download({ sessionId, path: join(root, "small"), offset: 6n })) void _;
      })(),
      Code.OutOfRange,
      /past the end/,
    );
    await expectSessionAlive();
    const target = { path: join(root, "never"), source: { size: 1000n, modifyTime: { seconds: 5n, nanos: 0 } } };
    await expectCode(
      alice.upload(
        (async function* () {
          yield { kind: { case: "start" as const, value: { sessionId, target, offset: 500n } } };
        })(),
      ),
      Code.OutOfRange,
      /call PrepareUpload/,
    );
    await expectSessionAlive();
    // The server's size limit, before any data moves.
    await expectCode(
      alice.prepareUpload({
        sessionId,
        target: { ...target, source: { size: BigInt(LIMIT_BYTES + 1), modifyTime: { seconds: 5n, nanos: 0 } } },
      }),
      Code.ResourceExhausted,
      /--max-transfer-bytes/,
    );
    await expectCode(
      alice.prepareUpload({ sessionId, target: { path: "", source: target.source } }),
      Code.InvalidArgument,
      /empty/,
    );
    // A sparse file over the limit costs no disk.
    writeFileSync(join(root, "huge"), "");
    truncateSync(join(root, "huge"), LIMIT_BYTES + 1);
    await expectCode(
      downloadFile(alice, { sessionId, remotePath: join(root, "huge"), localPath: join(local, "huge") }),
      Code.ResourceExhausted,
      /over this server's limit/,
    );
    expect(readdirSync(local).filter((n) => n.includes("huge"))).toEqual([]);
    // Technicians cannot open file channels themselves.
    await expectCode(
      ChannelClient.open(alice, { sessionId, type: ChannelType.FILE }),
      Code.InvalidArgument,
      /opened by the server/,
    );
    await expectSessionAlive();
    expect(existsSync(join(root, "never"))).toBe(false);
  });
});
