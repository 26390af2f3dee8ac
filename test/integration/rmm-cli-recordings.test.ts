import { readdirSync, readFileSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn as spawnPty } from "@lydell/node-pty";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { createTechnicianClient } from "../../client/technician-client.js";
import { ExitCode } from "../../cli/cli-error.js";
import { expectCode } from "../../testkit/file-fixtures.js";
import { startAgentRig, type AgentRig } from "../../testkit/agent-rig.js";
import { DIALECTS } from "../../testkit/test-databases.js";
import { CLI_MAIN, runCli, type CliResult } from "../support/run-cli.js";
import { until } from "../support/until.js";

interface RecordingJson {
  id: number;
  agentId: string;
  technician: string;
  sessionId: string;
  shell: string;
  outcome: string;
  sizeBytes: number;
  endTime: string | null;
}

describe.each(DIALECTS)("rmm recordings: ls, get and play against a real server and agent (%s)", (dialect) => {
  let rig: AgentRig;
  let dir: string;
  let alice: Record<string, string>;
  let bob: Record<string, string>;
  let admin: Record<string, string>;
  let recording: RecordingJson;
  const rmm = (args: string[], env: Record<string, string>) => runCli(args, { env });

  /** Opens `rmm shell` on a real pseudo-terminal and runs one command in it; the server records the terminal. */
  async function openTerminal(env: Record<string, string>, command: string, marker: string) {
    const pty = spawnPty(process.execPath, [CLI_MAIN, "shell", rig.agentId, "--shell", "/bin/sh"], {
      cols: 80,
      rows: 24,
      env: { ...process.env, ...env, TERM: "xterm" } as Record<string, string>,
    });
    let screen = "";
    pty.onData((d) => (screen += d));
    const exited = new Promise<number>((done) => pty.onExit(({ exitCode }) => done(exitCode)));
    try {
      pty.write(`${command}\r`);
      await until(() => screen.includes(marker), `the remote shell to print ${marker}`, 15_000);
    } catch (err) {
      pty.kill();
      throw err;
    }
    return {
      async exit() {
        try {
          pty.write("exit\r");
          expect(await exited).toBe(0);
        } finally {
          pty.kill();
        }
      },
    };
  }

  async function recordTerminal(env: Record<string, string>, command: string, marker: string): Promise<void> {
    await (await openTerminal(env, command, marker)).exit();
  }

  beforeAll(async () => {
    rig = await startAgentRig(dialect, { serverExtra: ["--ephemeral-grace", "1s"] });
    dir = mkdtempSync(join(tmpdir(), "rmm-recordings-"));
    alice = { XDG_CONFIG_HOME: dir, RMM_SERVER: rig.url, RMM_TOKEN: await rig.mintToken("alice") };
    bob = { XDG_CONFIG_HOME: dir, RMM_SERVER: rig.url, RMM_TOKEN: await rig.mintToken("bob") };
    admin = { XDG_CONFIG_HOME: dir, RMM_SERVER: rig.url, RMM_TOKEN: await rig.mintToken("root", "admin") };
    // The marker is computed remotely, so the typed line itself never matches it.
    await recordTerminal(alice, "echo RECORDED-$((6*7))", "RECORDED-42");
    await until(
      async () => {
        const [r] = parsed<RecordingJson[]>(await rmm(["recordings", "ls", "-o", "json"], alice));
        if (r?.outcome !== "completed") return false;
        recording = r;
        return true;
      },
      "alice's terminal to be listed as a completed recording",
      15_000,
    );
  });
  afterAll(async () => {
    await rig.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("lists the recording to its technician and admins, not to another technician, with filters", async () => {
    expect(recording).toMatchObject({
      agentId: rig.agentId,
      technician: "alice",
      shell: "/bin/sh",
      outcome: "completed",
      endTime: expect.any(String),
    });
    expect(recording.sizeBytes).toBeGreaterThan(0);
    expect(parsed<RecordingJson[]>(await rmm(["recordings", "ls", "-o", "json"], bob))).toEqual([]);
    const all = parsed<RecordingJson[]>(await rmm(["recordings", "ls", "-o", "json"], admin));
    expect(all.map((r) => r.id)).toEqual([recording.id]);
    const byFilter = (args: string[]) => rmm(["recordings", "ls", "-o", "json", ...args], admin);
    expect(parsed<RecordingJson[]>(await byFilter(["--agent", rig.agentId.slice(0, 8)]))).toHaveLength(1);
    expect(parsed<RecordingJson[]>(await byFilter(["--session", recording.sessionId]))).toHaveLength(1);
    expect(parsed<RecordingJson[]>(await byFilter(["--tech", "alice", "--since", "1h"]))).toHaveLength(1);
    expect(parsed<RecordingJson[]>(await byFilter(["--tech", "bob"]))).toEqual([]);
    expect(parsed<RecordingJson[]>(await byFilter(["--until", "1h"]))).toEqual([]);
    const table = await rmm(["recordings", "ls"], alice);
    expect(table.stdout.split("\n")[0]).toMatch(/^ID\s+AGENT\s+TECHNICIAN\s+STARTED\s+ENDED\s+SIZE\s+OUTCOME$/);
    const wide = await rmm(["recordings", "ls", "-o", "wide"], alice);
    expect(wide.stdout.split("\n")[1]).toContain(recording.sessionId);
    const denied = await rmm(["recordings", "ls", "--tech", "alice"], bob);
    expect(denied.code).toBe(ExitCode.PermissionDenied);
    expect(denied.stderr).toMatch(/^rmm: technicians see only their own recordings \(bob\); admins see all\n$/);
  });

  it("downloads the file byte-identical to what the server wrote, for its technician and admins", async () => {
    const sessionDir = join(rig.serverDir, "recordings", recording.sessionId);
    const [cast] = readdirSync(sessionDir);
    const onServer = readFileSync(join(sessionDir, cast!));
    expect(onServer.length).toBe(recording.sizeBytes);
    for (const [who, env] of [
      ["alice", alice],
      ["root", admin],
    ] as const) {
      const target = join(dir, `${who}.cast`);
      const got = await rmm(["recordings", "get", String(recording.id), target], env);
      expect(got.code, got.stderr).toBe(0);
      expect(readFileSync(target).equals(onServer), who).toBe(true);
      expect(statSync(target).mode & 0o777).toBe(0o600);
    }
    const toStdout = await runCli(["recordings", "get", String(recording.id)], { env: alice });
    expect(Buffer.from(toStdout.stdout).equals(onServer)).toBe(true);
  });

  it("replays the terminal's output at a high speed", async () => {
    const played = await rmm(
      ["recordings", "play", String(recording.id), "--speed", "1000", "--idle-limit", "0.01"],
      alice,
    );
    expect(played.code, played.stderr).toBe(0);
    expect(played.stdout).toContain("RECORDED-42");
    expect(played.stdout).toContain("echo RECORDED-$((6*7))");
  });

  it("refuses another technician's recording and unknown ids, and audits downloads and refusals", async () => {
    const id = String(recording.id);
    const denied = await rmm(["recordings", "get", id, join(dir, "bob.cast")], bob);
    expect(denied.code).toBe(ExitCode.PermissionDenied);
    expect(denied.stderr).toMatch(/another technician's; technicians read only their own, admins all\n$/);
    expect(() => statSync(join(dir, "bob.cast"))).toThrow();
    expect((await rmm(["recordings", "play", id], bob)).code).toBe(ExitCode.PermissionDenied);
    const unknown = await rmm(["recordings", "play", "999999"], admin);
    expect(unknown.code).toBe(ExitCode.NotFound);
    expect(unknown.stderr).toMatch(/no recording has id 999999/);
    for (const bad of ["0", "abc", "-1"]) {
      const r = await rmm(["recordings", "get", bad], alice);
      expect(r.code, bad).toBe(ExitCode.Usage);
    }
    const badSpeed = await rmm(["recordings", "play", id, "--speed", "0"], alice);
    expect(badSpeed).toMatchObject({
      code: ExitCode.Usage,
      stderr: expect.stringMatching(/--speed 0 is not a positive number/),
    });

    const events = parsed<Array<{ actor: string; outcome: string; sessionId: string; reason: string }>>(
      await rmm(["audit", "--action", "recording.download", "-o", "json", "--limit", "1000"], admin),
    );
    const of = (actor: string, outcome: string) => events.filter((e) => e.actor === actor && e.outcome === outcome);
    expect(of("tech:alice", "ok").length).toBeGreaterThanOrEqual(3);
    expect(of("tech:root", "ok").length).toBeGreaterThanOrEqual(1);
    expect(of("tech:bob", "refused")).toHaveLength(2);
    expect(of("tech:bob", "refused")[0]).toMatchObject({
      sessionId: recording.sessionId,
      reason: `recording ${id} is alice's`,
    });
  });

  it("lists a terminal still open as running, and downloads what it has written so far", async () => {
    const terminal = await openTerminal(alice, "echo OPEN-$((2*4))", "OPEN-8");
    try {
      const [open] = parsed<RecordingJson[]>(await rmm(["recordings", "ls", "-o", "json", "--limit", "1"], alice));
      expect(open).toMatchObject({ outcome: "running", endTime: null });
      expect(open!.id).toBeGreaterThan(recording.id);
      const target = join(dir, "open.cast");
      const got = await rmm(["recordings", "get", String(open!.id), target], alice);
      expect(got.code, got.stderr).toBe(0);
      const [cast] = readdirSync(join(rig.serverDir, "recordings", open!.sessionId));
      const onServer = readFileSync(join(rig.serverDir, "recordings", open!.sessionId, cast!));
      const partial = readFileSync(target);
      // Cut at the size the file had when the download started: a prefix of what the server holds.
      expect(partial.length).toBeGreaterThan(0);
      expect(onServer.subarray(0, partial.length).equals(partial)).toBe(true);
      expect(partial.toString()).toContain("OPEN-8");
    } finally {
      await terminal.exit();
    }
    await until(
      async () =>
        parsed<RecordingJson[]>(await rmm(["recordings", "ls", "-o", "json", "--limit", "1"], alice))[0]?.outcome ===
        "completed",
      "the closed terminal's recording to be completed",
      15_000,
    );
  });

  it("pages newest first, and says NotFound once the file is gone from the server's disk", async () => {
    const before = parsed<RecordingJson[]>(await rmm(["recordings", "ls", "-o", "json"], alice)).map((r) => r.id);
    await recordTerminal(alice, "echo GONE-$((1+1))", "GONE-2");
    let all: RecordingJson[] = [];
    await until(
      async () => {
        all = parsed<RecordingJson[]>(await rmm(["recordings", "ls", "-o", "json"], alice));
        return all.length > before.length && all[0]!.outcome === "completed";
      },
      "the new terminal to be listed as completed",
      15_000,
    );
    const second = all[0]!;
    expect(before).not.toContain(second.id);
    // Newest first, a page at a time, the same as one listing; a token from nowhere is refused.
    const client = createTechnicianClient(rig.url, alice.RMM_TOKEN!);
    const paged: number[] = [];
    let pageToken = "";
    do {
      const page = await client.listRecordings({ pageSize: 1, pageToken });
      expect(page.recordings).toHaveLength(1);
      paged.push(...page.recordings.map((r) => Number(r.id)));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(paged).toEqual(all.map((r) => r.id));
    expect(paged).toEqual([...paged].sort((a, b) => b - a));
    await expectCode(client.listRecordings({ pageToken: "bogus" }), Code.InvalidArgument, /not one this server issued/);
    await expectCode(client.listRecordings({ sessionId: "x".repeat(257) }), Code.InvalidArgument, /at most 256/);

    rmSync(join(rig.serverDir, "recordings", second.sessionId), { recursive: true, force: true });
    const listed = parsed<RecordingJson[]>(await rmm(["recordings", "ls", "-o", "json"], alice));
    expect(listed.find((r) => r.id === second.id)?.sizeBytes).toBe(0);
    const gone = await rmm(["recordings", "get", String(second.id)], alice);
    expect(gone.code).toBe(ExitCode.NotFound);
    expect(gone.stderr).toMatch(/no longer on the server/);
  });
});

/** The JSON a successful command printed; a failure shows its stderr. */
function parsed<T>(r: CliResult): T {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
}
