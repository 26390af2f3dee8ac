import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTechnicianClient } from "../../client/technician-client.js";
import type { TunnelService } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { PROCESS_GROUPS_FILE, readLedger } from "../../agent/process/process-group-ledger.js";
import { CommandAuditStore, openDatabase, parseDatabaseUrl, type Db } from "../../server/store/index.js";
import { startAgentRig, type AgentRig } from "../../testkit/agent-rig.js";
import { DIALECTS } from "../../testkit/test-databases.js";
import { until } from "../support/until.js";

/** Gone, or a zombie: either way no longer running. */
function isRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** Pids of the processes in a process group, from /proc (field 5 of stat is the group). */
function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid && fields[0] !== "Z") members.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return members;
}

describe.runIf(process.platform === "linux").each(DIALECTS)("an agent killed outright (kill -9) on %s", (dialect) => {
  let rig: AgentRig;
  let alice: Client<typeof TunnelService>;
  let db: Db;

  beforeAll(async () => {
    rig = await startAgentRig(dialect);
    alice = createTechnicianClient(rig.url, await rig.mintToken("alice", "admin"));
    db = openDatabase(parseDatabaseUrl(rig.dbUrl));
  }, 60_000);
  afterAll(async () => {
    await db?.destroy();
    await rig?.stop();
  });

  it("leaves no command running: the leader dies with the agent, the rest of its group at the next start, and the audit row says failed", async () => {
    const sessionId = (await alice.openTunnel({ agentId: rig.agentId })).session!.id;
    let leader = 0;
    let child = 0;
    const call = (async () => {
      // A silent tree: a shell whose child sleeps, and which never writes again.
      for await (const res of alice.exec({
        sessionId,
        params: { shellCommand: { shell: "/bin/sh", commandLine: "sleep 600 & echo $!; wait" } },
      })) {
        if (res.kind.case === "started") leader = res.kind.value.pid;
        if (res.kind.case === "output") child = Number(Buffer.from(res.kind.value.data).toString().trim());
      }
    })().catch((err: unknown) => err);
    await until(() => leader > 0 && child > 0, "the command to start and print its child's pid");
    const ledger = join(rig.dir, "agent", PROCESS_GROUPS_FILE);
    expect(readLedger(ledger)?.groups).toContain(leader);

    const agentPid = rig.agent.pid;
    rig.agent.signal("SIGKILL");
    await call;
    await until(() => !isRunning(agentPid), "the agent to be gone");
    // The parent-death signal ends the leader with the agent; its child, in the same group, is left.
    await until(() => !isRunning(leader), "the command's leader to die with the agent");
    expect(groupMembers(leader)).toEqual([child]);

    const audit = new CommandAuditStore(db);
    await until(
      async () => (await audit.forSession(sessionId)).at(-1)?.outcome === "failed",
      "the audit row to say failed",
    );
    expect((await audit.forSession(sessionId)).at(-1)?.message).toMatch(/agent vanished/);

    // The next start ends what is left of the group before serving anything.
    const restarted = await rig.restartAgent();
    await until(() => !isRunning(child), "the leftover child to be ended at the next start");
    expect(restarted.logs.some((e) => e.msg?.includes("previous run of the agent left running"))).toBe(true);
    expect(readLedger(ledger)?.groups).toEqual([]);
  });
});
