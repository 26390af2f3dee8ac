import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { open } from "node:fs/promises";
import { createHash } from "node:crypto";
import { join } from "node:path";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uploadFile } from "../../client/file-transfer.js";
import { FILE_CHUNK_BYTES, readChunks } from "../../common/file-chunks.js";
import { versionOf, versionToProto } from "../../common/file-version.js";
import { PARTIAL_MARKER, uploadPartialPath } from "../../common/partial-file.js";
import type { TunnelService, UploadRequestSchema } from "../../gen/rmm/v1/tunnel_service_pb.js";
import type { AgentRig } from "../../testkit/agent-rig.js";
import { startFileSession, type FileSession } from "../support/file-session.js";
import { expectCode, fileSha256Streaming, writeLargeRandomFile, writeRandomFile } from "../../testkit/file-fixtures.js";
import { DIALECTS } from "../../testkit/test-databases.js";
import { until } from "../support/until.js";

type UploadRequestInit = MessageInitShape<typeof UploadRequestSchema>;
const MiB = 1024 * 1024;

describe.each(DIALECTS)(
  "uploads cut while the agent opens them, and uploads racing on one target, on %s",
  (dialect) => {
    let rig: AgentRig;
    let alice: Client<typeof TunnelService>;
    let sessionId: string;
    let root: string;
    let local: string;

    let session: FileSession;

    beforeAll(async () => {
      session = await startFileSession(dialect, { prefix: "rmm-files-cancel-" });
      ({ rig, alice, sessionId, root, local } = session);
    });
    afterAll(() => session?.stop());

    const agentFds = () => readdirSync(`/proc/${rig.agent.pid}/fd`).length;

    it("keeps a large held prefix whole and leaks no descriptor when uploads are cancelled as the agent hashes it; the retry resumes", async () => {
      const src = join(local, "held.src");
      const size = 128 * MiB;
      const held = 96 * MiB;
      const sha = await writeLargeRandomFile(src, size);
      const remote = join(root, "held");
      const version = versionOf(statSync(src));
      // What an earlier, interrupted upload of this same source left on the agent.
      const partial = uploadPartialPath(remote, version);
      copyFileSync(src, partial);
      truncateSync(partial, held);
      const target = { path: remote, source: versionToProto(version) };
      const fdsBefore = agentFds();
      // Cancelled at different points of the agent's start: resolving, locking, stat, open, and the 96 MiB hash.
      for (const delayMs of [0, 5, 20, 40, 80, 160, 320]) {
        const abort = new AbortController();
        async function* requests(): AsyncGenerator<UploadRequestInit> {
          yield { kind: { case: "start", value: { sessionId, target, offset: BigInt(held) } } };
          await new Promise((resolve) => abort.signal.addEventListener("abort", resolve, { once: true }));
        }
        const call = alice.upload(requests(), { signal: abort.signal });
        setTimeout(() => abort.abort(), delayMs);
        await expectCode(call, Code.Canceled);
      }
      // Answered once every cut upload let go of the partial: all of it is still there.
      const prepared = await alice.prepareUpload({ sessionId, target });
      expect(prepared.offset).toBe(BigInt(held));
      expect(statSync(partial).size).toBe(held);
      await until(
        () => agentFds() <= fdsBefore,
        `the agent's descriptors to come back to ${fdsBefore} (now ${agentFds()})`,
      );
      const res = await uploadFile(alice, { sessionId, localPath: src, remotePath: remote });
      expect(res).toMatchObject({ resumedFrom: held, sha256: sha });
      expect(await fileSha256Streaming(remote)).toBe(sha);
      expect(readdirSync(root).filter((n) => n.includes(PARTIAL_MARKER))).toEqual([]);
      rmSync(src);
      rmSync(remote);
    });

    it("leaks no descriptor when listings are cancelled after their first batch", async () => {
      const dir = join(root, "many");
      mkdirSync(dir);
      for (let i = 0; i < 3_000; i++) writeFileSync(join(dir, `f${i}`), "");
      const fdsBefore = agentFds();
      for (let i = 0; i < 5; i++) {
        const abort = new AbortController();
        const stream = alice.listDirectory({ sessionId, path: dir }, { signal: abort.signal });
        for await (const batch of stream) {
          expect(batch.entries.length).toBeGreaterThan(0);
          break;
        }
        abort.abort();
      }
      await until(
        () => agentFds() <= fdsBefore,
        `the agent's descriptors to come back to ${fdsBefore} (now ${agentFds()})`,
      );
      let entries = 0;
      for await (const batch of alice.listDirectory({ sessionId, path: dir })) entries += batch.entries.length;
      expect(entries).toBe(3_000);
    });

    it("leaves the partial of a concurrent upload of another source version alone when one upload completes", async () => {
      const remote = join(root, "raced");
      // Upload A (one source version) stops halfway and waits, holding its partial.
      const a = join(local, "raced.a");
      const shaA = writeRandomFile(a, 4 * MiB);
      const versionA = versionOf(statSync(a));
      const targetA = { path: remote, overwrite: true, source: versionToProto(versionA) };
      const partialA = uploadPartialPath(remote, versionA);
      let resume!: () => void;
      const paused = new Promise<void>((resolve) => (resume = resolve));
      async function* requestsA(): AsyncGenerator<UploadRequestInit> {
        yield { kind: { case: "start", value: { sessionId, target: targetA, offset: 0n } } };
        const handle = await open(a, "r");
        try {
          const hash = createHash("sha256");
          let sent = 0;
          for await (const chunk of readChunks(handle, 0, versionA.size, FILE_CHUNK_BYTES)) {
            if (sent === 2 * MiB) await paused;
            hash.update(chunk);
            yield { kind: { case: "chunk", value: chunk } };
            sent += chunk.length;
          }
          yield { kind: { case: "sha256", value: hash.digest() } };
        } finally {
          await handle.close();
        }
      }
      const uploadA = alice.upload(requestsA());
      // Awaited below; until then a failure must not surface as an unhandled rejection.
      uploadA.catch(() => undefined);
      await until(() => existsSync(partialA) && statSync(partialA).size === 2 * MiB, "upload A to hold 2 MiB");
      // Upload B, another version of the source, completes meanwhile.
      const b = join(local, "raced.b");
      const shaB = writeRandomFile(b, 3 * MiB);
      expect(await uploadFile(alice, { sessionId, localPath: b, remotePath: remote, overwrite: true })).toMatchObject({
        sha256: shaB,
      });
      expect(statSync(partialA).size).toBe(2 * MiB);
      // A finishes on the bytes it kept, and replaces B.
      resume();
      const resA = await uploadA;
      expect(Buffer.from(resA.sha256).toString("hex")).toBe(shaA);
      expect(await fileSha256Streaming(remote)).toBe(shaA);
      expect(readdirSync(root).filter((n) => n.includes(PARTIAL_MARKER))).toEqual([]);
    });
  },
);
