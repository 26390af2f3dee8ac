import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { downloadFile, uploadFile } from "../../client/file-transfer.js";
import { createTechnicianClient } from "../../client/technician-client.js";
import { startAgentRig, type AgentRig } from "../../testkit/agent-rig.js";
import { fileSha256Streaming, peakRssBytes, writeLargeRandomFile } from "../../testkit/file-fixtures.js";

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
/** Peak RSS allowed to the server and the agent moving 1 GiB: a few windows of 64 KiB chunks plus Node's own ~60 MiB, with room to spare. */
const MAX_PEAK_RSS = 256 * MiB;

/**
 * One 1 GiB file up and back through a real server and a real agent. Its own
 * file so it can run alone (it moves 2 GiB); sqlite only, since the store
 * only sees one audit row per transfer.
 */
describe("a 1 GiB round trip", () => {
  let rig: AgentRig;
  let work: string;
  let root: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "rmm-files-large-"));
    root = join(work, "root");
    mkdirSync(root);
    rig = await startAgentRig("sqlite", { agentExtra: ["--file-root", root], logLevel: "info" });
  });
  afterAll(async () => {
    await rig?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it(
    "arrives byte-identical both ways while the server and agent stay under 256 MiB of memory",
    { timeout: 600_000 },
    async () => {
      const client = createTechnicianClient(rig.url, await rig.mintToken("alice"));
      const sessionId = (await client.openTunnel({ agentId: rig.agentId })).session!.id;
      const src = join(work, "source");
      const sha = await writeLargeRandomFile(src, GiB);

      let t0 = performance.now();
      const up = await uploadFile(client, { sessionId, localPath: src, remotePath: join(root, "big") });
      const upSeconds = (performance.now() - t0) / 1000;
      expect(up).toMatchObject({ size: GiB, sha256: sha, resumedFrom: 0 });
      rmSync(src);
      t0 = performance.now();
      const down = await downloadFile(client, {
        sessionId,
        remotePath: join(root, "big"),
        localPath: join(work, "back"),
      });
      const downSeconds = (performance.now() - t0) / 1000;
      expect(down).toMatchObject({ size: GiB, sha256: sha });
      expect(await fileSha256Streaming(join(work, "back"))).toBe(sha);

      const server = peakRssBytes(rig.server.proc.pid);
      const agent = peakRssBytes(rig.agent.pid);
      const technician = peakRssBytes("self");
      process.stdout.write(
        `1 GiB: upload ${(GiB / upSeconds / 1e6).toFixed(0)} MB/s, download ${(GiB / downSeconds / 1e6).toFixed(0)} MB/s; ` +
          `peak RSS server ${(server / MiB).toFixed(0)} MiB, agent ${(agent / MiB).toFixed(0)} MiB, ` +
          `technician (test worker) ${(technician / MiB).toFixed(0)} MiB\n`,
      );
      expect(server).toBeLessThan(MAX_PEAK_RSS);
      expect(agent).toBeLessThan(MAX_PEAK_RSS);
    },
  );
});
