import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { createTechnicianClient } from "../../client/technician-client.js";
import { ExitCode } from "../../cli/cli-error.js";
import { openDatabase, parseDatabaseUrl } from "../../server/store/open-database.js";
import { startAgentRig, type AgentRig } from "../../testkit/agent-rig.js";
import { DIALECTS } from "../../testkit/test-databases.js";
import { runCli, type CliResult } from "../support/run-cli.js";
import { until } from "../support/until.js";

interface AgentJson {
  id: string;
  online: boolean;
  agentVersion: string;
  health: { uptimeSeconds: number; memoryTotalBytes: number; diskTotalBytes: number; loadAverage: number[] } | null;
}

describe.each(DIALECTS)("rmm agents inventory, agent show and agents rm (%s)", (dialect) => {
  let rig: AgentRig;
  let staleId: string;
  let tech: Record<string, string>;
  let admin: Record<string, string>;
  const rmm = (args: string[], env = tech) => runCli(args, { env });
  /** The exec's session is ephemeral: the server releases it once its grace has passed with no channel. */
  const released = (env: typeof tech) =>
    until(
      async () =>
        parsed<Array<{ state: string }>>(await rmm(["sessions", "-o", "json"], env)).every((s) => s.state === "closed"),
      "the command's ephemeral session to be released",
      15_000,
    );

  beforeAll(async () => {
    // Heartbeats every second, so the inventory fills in quickly.
    rig = await startAgentRig(dialect, { serverExtra: ["--heartbeat-interval", "1s", "--ephemeral-grace", "1s"] });
    staleId = await rig.enrollAgent("stale");
    tech = { RMM_SERVER: rig.url, RMM_TOKEN: await rig.mintToken("alice") };
    admin = { RMM_SERVER: rig.url, RMM_TOKEN: await rig.mintToken("root", "admin") };
  });
  afterAll(async () => {
    await rig.stop();
  });

  it("lists the heartbeat's uptime, load, memory and disk with -o wide, json and yaml", async () => {
    let agents: AgentJson[] = [];
    await until(async () => {
      agents = parsed<AgentJson[]>(await rmm(["agents", "-o", "json"]));
      return agents.find((a) => a.id === rig.agentId)?.health != null;
    }, "a heartbeat to reach the listing");
    const live = agents.find((a) => a.id === rig.agentId)!;
    expect(live.health!.memoryTotalBytes).toBeGreaterThan(0);
    expect(live.health!.diskTotalBytes).toBeGreaterThan(0);
    expect(live.health!.loadAverage).toHaveLength(3);
    expect(agents.find((a) => a.id === staleId)?.health).toBeNull();
    const yaml = await rmm(["agents", "-o", "yaml"]);
    // The same records (a heartbeat may have moved the figures in between).
    const fromYaml = parseYaml(yaml.stdout) as AgentJson[];
    expect(fromYaml.map((a) => a.id)).toEqual(agents.map((a) => a.id));
    expect(fromYaml.map((a) => Object.keys(a))).toEqual(agents.map((a) => Object.keys(a)));
    expect(fromYaml.find((a) => a.id === rig.agentId)?.health?.memoryTotalBytes).toBe(live.health!.memoryTotalBytes);
    const wide = await rmm(["agents", "-o", "wide"]);
    const lines = wide.stdout.trim().split("\n");
    expect(lines[0]).toMatch(
      /^ID\s+HOSTNAME\s+OS\s+ONLINE\s+LAST SEEN\s+SESSION\s+LABELS\s+VERSION\s+UPTIME\s+LOAD\s+MEMORY\s+DISK$/,
    );
    expect(lines.find((l) => l.startsWith(rig.agentId))).toMatch(/\d+% of [\d.]+ [KMGT]iB\s+\d+% of [\d.]+ [KMGT]iB$/);
    const table = await rmm(["agents"]);
    expect(table.stdout.split("\n")[0]).toMatch(/^ID\s+HOSTNAME\s+OS\s+ONLINE\s+LAST SEEN\s+SESSION\s+LABELS$/);
    const bad = await rmm(["agents", "-o", "xml"]);
    expect(bad.code).toBe(ExitCode.Usage);
    expect(bad.stderr).toMatch(/^rmm: option '-o, --output <format>' argument 'xml' is invalid/);
  });

  it("shows one agent by id prefix, as text and as json", async () => {
    const text = await rmm(["agent", "show", rig.agentId.slice(0, 8)]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^agent ${rig.agentId}\\n`));
    expect(text.stdout).toMatch(/\n {2}state {9}online\n/);
    expect(text.stdout).toMatch(/\n {2}capabilities {2}.*exec/);
    const json = parsed<AgentJson>(await rmm(["agent", "show", rig.agentId, "-o", "json"]));
    expect(json).toMatchObject({ id: rig.agentId, online: true });
    const missing = await rmm(["agent", "show", "no-such-agent"]);
    expect(missing.code).toBe(ExitCode.NotFound);
  });

  it("removes a stale enrollment for an admin only, refuses a connected agent, and audits it", async () => {
    const refused = await rmm(["agents", "rm", staleId]);
    expect(refused).toMatchObject({
      code: ExitCode.PermissionDenied,
      stderr: "rmm: deleting an agent needs the admin role\n",
    });
    const online = await rmm(["agents", "rm", rig.agentId], admin);
    expect(online.code).toBe(ExitCode.Unavailable);
    expect(online.stderr).toMatch(/is connected: revoke it first/);
    const removed = await rmm(["agents", "rm", staleId], admin);
    expect(removed, removed.stderr).toMatchObject({ code: 0, stdout: expect.stringContaining(staleId) });
    const after = parsed<AgentJson[]>(await rmm(["agents", "--json"]));
    expect(after.map((a) => a.id)).toEqual([rig.agentId]);
    const db = openDatabase(parseDatabaseUrl(rig.dbUrl));
    try {
      const events = await db
        .selectFrom("audit_events")
        .select(["actor", "outcome"])
        .where("action", "=", "agent.delete")
        .where("agent_id", "=", staleId)
        .orderBy("id")
        .execute();
      expect(events).toEqual([
        { actor: "tech:alice", outcome: "refused" },
        { actor: "tech:root", outcome: "ok" },
      ]);
    } finally {
      await db.destroy();
    }
  });

  it("lists the audit trail newest first: technicians their own, admins all, with filters and paging", async () => {
    const bob = { RMM_SERVER: rig.url, RMM_TOKEN: await rig.mintToken("bob") };
    // An explicit session, so both its open and its close are bob's (a command's ephemeral one is released by the server).
    expect((await rmm(["tunnel", "open", rig.agentId], bob)).code).toBe(0);
    expect((await rmm(["tunnel", "close", rig.agentId], bob)).code).toBe(0);
    interface EventJson {
      id: number;
      actor: string;
      action: string;
      outcome: string;
      agentId: string | null;
    }
    const mine = parsed<EventJson[]>(await rmm(["audit", "-o", "json"], bob));
    expect(mine.map((e) => e.action).slice(0, 2)).toEqual(["tunnel.close", "tunnel.open"]);
    expect(new Set(mine.map((e) => e.actor))).toEqual(new Set(["tech:bob"]));
    expect(mine.map((e) => e.id)).toEqual([...mine.map((e) => e.id)].sort((a, b) => b - a));
    const refused = await rmm(["audit", "--tech", "root"], bob);
    expect(refused.code).toBe(ExitCode.PermissionDenied);
    const all = parsed<EventJson[]>(await rmm(["audit", "-o", "json", "--limit", "1000"], admin));
    expect(all.some((e) => e.actor === "tech:bob") && all.some((e) => e.actor === "tech:root")).toBe(true);
    // Pages of two through the API give the same events in the same order, then an empty token.
    const client = createTechnicianClient(rig.url, admin.RMM_TOKEN!);
    const ids: number[] = [];
    let pageToken = "";
    do {
      const page = await client.listAuditEvents({ pageSize: 2, pageToken });
      expect(page.events.length).toBeLessThanOrEqual(2);
      ids.push(...page.events.map((e) => Number(e.id)));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(ids).toEqual(all.map((e) => e.id));
    await expect(client.listAuditEvents({ pageToken: "bogus" })).rejects.toMatchObject({ code: Code.InvalidArgument });
    const deletes = parsed<EventJson[]>(
      await rmm(["audit", "--agent", staleId, "--action", "agent.delete", "--since", "1h", "-o", "json"], admin),
    );
    expect(deletes.map((e) => `${e.actor} ${e.outcome}`)).toEqual(["tech:root ok", "tech:alice refused"]);
    const future = parsed<EventJson[]>(await rmm(["audit", "--since", "2999-01-01T00:00Z", "-o", "json"], admin));
    expect(future).toEqual([]);
    const table = await rmm(["audit", "--limit", "2"], bob);
    expect(table.stdout.split("\n")[0]).toMatch(/^TIME\s+ACTOR\s+ACTION\s+OUTCOME\s+AGENT$/);
    expect(table.stdout.trim().split("\n")).toHaveLength(3);
    expect((await rmm(["audit", "--outcome", "maybe"], bob)).stderr).toMatch(
      /^rmm: outcome maybe is not one of ok, refused, error\n$/,
    );
    expect((await rmm(["audit", "--since", "yesterday"], bob)).code).toBe(ExitCode.Usage);
  });

  it("lists sessions newest first: technicians their own, admins all, filtered by agent, state and time", async () => {
    const carol = { RMM_SERVER: rig.url, RMM_TOKEN: await rig.mintToken("carol") };
    expect((await rmm(["exec", rig.agentId, "--", "true"], carol)).code).toBe(0);
    await released(carol);
    const opened = JSON.parse((await rmm(["tunnel", "open", rig.agentId, "-o", "json"], carol)).stdout) as {
      id: string;
    };
    interface SessionJson {
      id: string;
      technician: string;
      state: string;
      closeReason: string | null;
    }
    const mine = parsed<SessionJson[]>(await rmm(["sessions", "-o", "json"], carol));
    expect(mine.map((s) => [s.technician, s.state])).toEqual([
      ["carol", "active"],
      ["carol", "closed"],
    ]);
    expect(mine[0]!.id).toBe(opened.id);
    expect(mine[1]!.closeReason).toBe("released");
    const active = parsed<SessionJson[]>(
      await rmm(["sessions", "--state", "active", "--agent", rig.agentId, "-o", "json"], admin),
    );
    expect(active.map((s) => s.id)).toEqual([opened.id]);
    const all = parsed<SessionJson[]>(await rmm(["sessions", "--since", "1h", "-o", "json"], admin));
    expect(new Set(all.map((s) => s.technician))).toEqual(new Set(["bob", "carol"]));
    expect((await rmm(["sessions", "--tech", "alice"], carol)).code).toBe(ExitCode.PermissionDenied);
    const client = createTechnicianClient(rig.url, admin.RMM_TOKEN!);
    const ids: string[] = [];
    let pageToken = "";
    do {
      const page = await client.listSessions({ pageSize: 1, pageToken });
      ids.push(...page.sessions.map((s) => s.id));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(ids).toEqual(all.map((s) => s.id));
    expect((await rmm(["tunnel", "close", opened.id], carol)).code).toBe(0);
  });
});

function parsed<T>(r: CliResult): T {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
}
