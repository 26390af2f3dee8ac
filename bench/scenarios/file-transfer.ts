import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { downloadFile, uploadFile } from "../../client/file-transfer.js";
import { createTechnicianClient } from "../../client/technician-client.js";
import { startAgentRig } from "../../testkit/agent-rig.js";
import { writeLargeRandomFile } from "../../testkit/file-fixtures.js";

/**
 * Upload then download one file of `bytes` through a real server and a real
 * agent process, each timed on its own (the source file is written first and
 * not timed). Both directions are verified by SHA-256, so a fast wrong
 * transfer cannot pass.
 *
 * Reproduce: npm run build && node -e 'import("./dist/bench/scenarios/file-transfer.js").then((m) => m.fileTransfer({ bytes: 2 ** 30 })).then(console.log)'
 */
export async function fileTransfer(opts: {
  bytes: number;
  store?: "sqlite" | "mysql";
  serverNodeArgs?: string[];
  /** More `rmm-server serve` flags. Defaults to none. */
  serverExtra?: readonly string[];
}): Promise<{ uploadMBps: number; downloadMBps: number; bytes: number }> {
  const work = mkdtempSync(join(tmpdir(), "rmm-bench-files-"));
  const root = join(work, "root");
  mkdirSync(root);
  const rig = await startAgentRig(opts.store ?? "sqlite", {
    agentExtra: ["--file-root", root],
    serverExtra: ["--max-transfer-bytes", "0", ...(opts.serverExtra ?? [])],
    logLevel: "info",
    ...(opts.serverNodeArgs && { serverNodeArgs: opts.serverNodeArgs }),
  });
  try {
    const client = createTechnicianClient(rig.url, await rig.mintToken("bench"));
    const sessionId = (await client.openTunnel({ agentId: rig.agentId })).session!.id;
    const src = join(work, "source");
    const sha = await writeLargeRandomFile(src, opts.bytes);

    let t0 = performance.now();
    const up = await uploadFile(client, { sessionId, localPath: src, remotePath: join(root, "file") });
    const uploadSeconds = (performance.now() - t0) / 1000;
    if (up.sha256 !== sha) throw new Error(`upload hash ${up.sha256} is not the source's ${sha}`);

    t0 = performance.now();
    const down = await downloadFile(client, {
      sessionId,
      remotePath: join(root, "file"),
      localPath: join(work, "back"),
    });
    const downloadSeconds = (performance.now() - t0) / 1000;
    if (down.sha256 !== sha) throw new Error(`download hash ${down.sha256} is not the source's ${sha}`);

    await client.closeTunnel({ sessionId });
    return {
      uploadMBps: opts.bytes / uploadSeconds / 1e6,
      downloadMBps: opts.bytes / downloadSeconds / 1e6,
      bytes: opts.bytes,
    };
  } finally {
    await rig.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
