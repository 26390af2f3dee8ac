import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "@connectrpc/connect";
import { createTechnicianClient } from "../../client/technician-client.js";
import type { TunnelService } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { startAgentRig, type AgentRig } from "../../testkit/agent-rig.js";
import type { Dialect } from "../../testkit/test-databases.js";

export interface FileDirs {
  /** A fresh temporary directory holding the others. */
  work: string;
  /** The agent's only --file-root. */
  root: string;
  /** Where the technician's side keeps its files. */
  local: string;
}

export interface FileSession extends FileDirs {
  rig: AgentRig;
  /** A technician client, as alice. */
  alice: Client<typeof TunnelService>;
  /** alice's open session on the rig's agent. */
  sessionId: string;
  stop(): Promise<void>;
}

/**
 * What every file transfer suite starts from: a real server and agent whose
 * file root is `<work>/root`, laid out by `prepare` before the agent starts,
 * and an open session for alice.
 */
export async function startFileSession(
  dialect: Dialect,
  opts: { prefix: string; prepare?: (dirs: FileDirs) => void; rig?: Parameters<typeof startAgentRig>[1] },
): Promise<FileSession> {
  const work = mkdtempSync(join(tmpdir(), opts.prefix));
  const dirs = { work, root: join(work, "root"), local: join(work, "local") };
  let rig: AgentRig | undefined;
  try {
    mkdirSync(dirs.root);
    mkdirSync(dirs.local);
    opts.prepare?.(dirs);
    rig = await startAgentRig(dialect, {
      logLevel: "info",
      ...opts.rig,
      agentExtra: ["--file-root", dirs.root, ...(opts.rig?.agentExtra ?? [])],
    });
    const alice = createTechnicianClient(rig.url, await rig.mintToken("alice"));
    const sessionId = (await alice.openTunnel({ agentId: rig.agentId })).session!.id;
    const started = rig;
    return {
      ...dirs,
      rig,
      alice,
      sessionId,
      async stop() {
        await started.stop();
        rmSync(work, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rig?.stop();
    rmSync(work, { recursive: true, force: true });
    throw err;
  }
}
