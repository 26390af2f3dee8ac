import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChannelClient } from "../../client/channel-client.js";
import { createTechnicianClient } from "../../client/technician-client.js";
import { ExecParamsSchema, OutputStream, type ExitStatus } from "../../gen/rmm/v1/exec_pb.js";
import { ChannelType } from "../../gen/rmm/v1/frame_pb.js";
import { TunnelService, type ExecRequest, type ExecResponse } from "../../gen/rmm/v1/tunnel_service_pb.js";
import {
  CommandAuditStore,
  openDatabase,
  parseDatabaseUrl,
  type CommandAuditRow,
  type Db,
} from "../../server/store/index.js";
import { startAgentRig, type AgentRig } from "../../testkit/agent-rig.js";
import { DIALECTS } from "../../testkit/test-databases.js";
import { until } from "../support/until.js";

type ExecInit = Omit<Partial<ExecRequest>, "params" | "$typeName"> & {
  params: Parameters<typeof create<typeof ExecParamsSchema>>[1];
};

const POLICY = {
  roles: {
    tech: {
      terminal: false,
      rules: [
        { name: "no-shutdown", effect: "deny", program: "shutdown" },
        { name: "no-recursive-rm", effect: "deny", program: "rm", args: ["-r*", "-*r*"] },
        // A program given as a path matches only a rule whose program has a "/".
        { name: "everything-else", effect: "allow", program: "*" },
        { name: "everything-else-by-path", effect: "allow", program: "/*" },
      ],
    },
    admin: {
      terminal: true,
      rules: [
        { name: "admin-all", effect: "allow", program: "*" },
        { name: "admin-all-by-path", effect: "allow", program: "/*" },
      ],
    },
  },
};
/** Short, so the idle test is quick; every other terminal test keeps output flowing. */
const TERMINAL_IDLE = "1500ms";
const MiB = 1024 * 1024;

interface ExecResult {
  started: number | undefined;
  output: Array<{ stream: OutputStream; text: string }>;
  exit: ExitStatus | undefined;
}

function errorOf(err: unknown): ConnectError {
  return ConnectError.from(err);
}

/** Resident set size of a process of ours, from /proc. */
function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(match![1]) * 1024;
}

/** Gone, or a zombie waiting for init to reap it: either way no longer running. */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

describe.each(DIALECTS)("remote commands and terminals on %s", (dialect) => {
  let rig: AgentRig;
  let alice: Client<typeof TunnelService>;
  let root: Client<typeof TunnelService>;
  let sessionId: string;
  let db: Db;
  let audit: CommandAuditStore;

  const exec = async (init: ExecInit, signal?: AbortSignal): Promise<ExecResult> => {
    const result: ExecResult = { started: undefined, output: [], exit: undefined };
    for await (const res of alice.exec(
      { sessionId, ...init, params: create(ExecParamsSchema, init.params) },
      signal ? { signal } : {},
    )) {
      collect(result, res);
    }
    return result;
  };
  const collect = (result: ExecResult, res: ExecResponse) => {
    if (res.kind.case === "started") result.started = res.kind.value.pid;
    if (res.kind.case === "output")
      result.output.push({ stream: res.kind.value.stream, text: Buffer.from(res.kind.value.data).toString() });
    if (res.kind.case === "exit") result.exit = res.kind.value;
  };
  const auditRows = (): Promise<CommandAuditRow[]> => audit.forSession(sessionId);
  const lastRow = async (): Promise<CommandAuditRow> => (await auditRows()).at(-1)!;

  beforeAll(async () => {
    const { mkdtempSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const policyFile = join(mkdtempSync(join(tmpdir(), "rmm-policy-")), "policy.json");
    writeFileSync(policyFile, JSON.stringify(POLICY));
    rig = await startAgentRig(dialect, {
      serverExtra: ["--policy", policyFile, "--terminal-idle-timeout", TERMINAL_IDLE, "--session-idle-timeout", "10m"],
    });
    alice = createTechnicianClient(rig.url, await rig.mintToken("alice", "tech"));
    root = createTechnicianClient(rig.url, await rig.mintToken("root", "admin"));
    sessionId = (await alice.openTunnel({ agentId: rig.agentId })).session!.id;
    db = openDatabase(parseDatabaseUrl(rig.dbUrl));
    audit = new CommandAuditStore(db);
  }, 60_000);
  afterAll(async () => {
    await db?.destroy();
    await rig?.stop();
  });

  it("streams interleaved stdout and stderr in the order they were produced, then the exit code, and audits it", async () => {
    const result = await exec({
      params: {
        shellCommand: {
          shell: "/bin/sh",
          commandLine: "for i in 1 2 3; do echo out$i; sleep 0.05; echo err$i >&2; sleep 0.05; done; exit 3",
        },
      },
    });
    expect(result.started).toBeGreaterThan(0);
    expect(result.output.map((o) => `${o.stream === OutputStream.STDERR ? "E" : "O"}:${o.text.trim()}`)).toEqual([
      "O:out1",
      "E:err1",
      "O:out2",
      "E:err2",
      "O:out3",
      "E:err3",
    ]);
    expect(result.exit).toMatchObject({
      exitCode: 3,
      signal: "",
      timedOut: false,
      cancelled: false,
      stdoutBytes: 15n,
      stderrBytes: 15n,
    });
    await until(async () => (await lastRow()).outcome !== "running", "the audit row to complete");
    expect(await lastRow()).toMatchObject({
      kind: "exec",
      technician: "alice",
      agent_id: rig.agentId,
      argv: JSON.stringify([
        "/bin/sh",
        "-c",
        "for i in 1 2 3; do echo out$i; sleep 0.05; echo err$i >&2; sleep 0.05; done; exit 3",
      ]),
      outcome: "completed",
      exit_code: 3,
      stdout_bytes: 15,
      stderr_bytes: 15,
      policy_rule: "everything-else-by-path",
    });
  });

  it("feeds stdin to the program and closes it (Exec and an exec channel)", async () => {
    const input = Buffer.alloc(3 * MiB, "abcdefghij\n");
    const result = await exec({ params: { argv: ["wc", "-c"] }, stdin: input });
    expect(
      result.output
        .map((o) => o.text)
        .join("")
        .trim(),
    ).toBe(String(input.length));
    expect(result.exit?.exitCode).toBe(0);

    const channel = await ChannelClient.open(alice, {
      sessionId,
      type: ChannelType.EXEC,
      params: { case: "exec", value: { argv: ["sh", "-c", "read line; echo got:$line"] } },
    });
    await channel.write(Buffer.from("hello\n"));
    channel.endInput();
    const out: string[] = [];
    for await (const chunk of channel.data()) out.push(Buffer.from(chunk).toString());
    expect(out.join("")).toBe("got:hello\n");
    expect((await channel.ended).exit?.exitCode).toBe(0);
  });

  it("runs in the given working directory with the given environment", async () => {
    const result = await exec({
      params: {
        argv: ["sh", "-c", 'pwd; echo "$RMM_TEST_VALUE"'],
        workingDirectory: "/",
        environment: { RMM_TEST_VALUE: "from the technician" },
      },
    });
    expect(result.output.map((o) => o.text).join("")).toBe("/\nfrom the technician\n");
    await until(async () => (await lastRow()).outcome === "completed", "the audit row to complete");
    expect((await lastRow()).working_directory).toBe("/");
  });

  it("reports a signal that ended the program", async () => {
    const result = await exec({ params: { shellCommand: { shell: "/bin/sh", commandLine: "kill -KILL $$" } } });
    expect(result.exit?.exitCode).toBeUndefined();
    expect(result.exit?.signal).toBe("SIGKILL");
  });

  it("ends the process tree at the timeout and says so", async () => {
    const result = await exec({ params: { argv: ["sleep", "30"], timeout: { seconds: 0n, nanos: 300_000_000 } } });
    expect(result.exit).toMatchObject({ timedOut: true, signal: "SIGTERM" });
    await until(async () => (await lastRow()).outcome === "timed_out", "the audit row to say timed_out");
  });

  it("cancelling the call kills the whole process tree, children included", async () => {
    const abort = new AbortController();
    const pids: number[] = [];
    let rootPid = 0;
    const call = (async () => {
      for await (const res of alice.exec(
        {
          sessionId,
          params: { shellCommand: { shell: "/bin/sh", commandLine: "sleep 300 & echo $!; sleep 300 & echo $!; wait" } },
        },
        { signal: abort.signal },
      )) {
        if (res.kind.case === "started") rootPid = res.kind.value.pid;
        if (res.kind.case === "output")
          pids.push(...Buffer.from(res.kind.value.data).toString().trim().split(/\s+/).map(Number));
        if (pids.length >= 2) abort.abort();
      }
    })().catch((err: unknown) => errorOf(err));
    expect((await call)?.code).toBe(Code.Canceled);
    expect(pids.every((p) => p > 0) && rootPid > 0).toBe(true);
    await until(() => ![rootPid, ...pids].some(isRunning), "the shell and both children to be gone");
    await until(async () => (await lastRow()).outcome === "cancelled", "the audit row to say cancelled");
  });

  it("closing the session ends a running command's process tree; a new session runs commands again", async () => {
    const pids: number[] = [];
    let closing: Promise<unknown> | undefined;
    const call = (async () => {
      for await (const res of alice.exec({
        sessionId,
        params: { shellCommand: { shell: "/bin/sh", commandLine: "sleep 300 & echo $!; sleep 300 & echo $!; wait" } },
      })) {
        if (res.kind.case === "started") pids.push(res.kind.value.pid);
        if (res.kind.case === "output")
          pids.push(...Buffer.from(res.kind.value.data).toString().trim().split(/\s+/).map(Number));
        if (pids.length >= 3 && !closing) closing = alice.closeTunnel({ sessionId });
      }
    })().catch(errorOf);
    expect((await call)?.code).toBe(Code.Unavailable);
    await closing;
    await until(() => !pids.some(isRunning), "the shell and both children to be gone");
    await until(async () => (await lastRow()).outcome !== "running", "the audit row to complete");
    expect((await lastRow()).outcome).toBe("cancelled");
    sessionId = (await alice.openTunnel({ agentId: rig.agentId })).session!.id;
    expect((await exec({ params: { argv: ["true"] } })).exit?.exitCode).toBe(0);
  });

  it("refuses commands and terminals the policy forbids, naming the rule, and audits the refusal", async () => {
    const denied = await exec({ params: { argv: ["rm", "-rf", "/tmp/nothing-here"] } }).catch(errorOf);
    expect(denied).toBeInstanceOf(ConnectError);
    expect((denied as ConnectError).code).toBe(Code.PermissionDenied);
    expect((denied as ConnectError).rawMessage).toContain("no-recursive-rm");
    expect(await lastRow()).toMatchObject({
      outcome: "refused",
      policy_rule: "no-recursive-rm",
      argv: JSON.stringify(["rm", "-rf", "/tmp/nothing-here"]),
      channel_id: null,
    });

    const terminal = await ChannelClient.open(alice, {
      sessionId,
      type: ChannelType.TERMINAL,
      params: { case: "terminal", value: { shell: "/bin/sh" } },
    }).catch(errorOf);
    expect((terminal as ConnectError).code).toBe(Code.PermissionDenied);
    expect(await lastRow()).toMatchObject({ kind: "terminal", outcome: "refused", policy_rule: "roles.tech.terminal" });
  });

  it("refuses an exec channel opened with OpenChannel (not Exec) by the same policy, and audits the refusal", async () => {
    const before = (await auditRows()).length;
    const channel = await ChannelClient.open(alice, {
      sessionId,
      type: ChannelType.EXEC,
      params: { case: "exec", value: { argv: ["shutdown", "-h", "now"] } },
    }).catch(errorOf);
    expect(channel).toBeInstanceOf(ConnectError);
    expect([(channel as ConnectError).code, (channel as ConnectError).rawMessage]).toEqual([
      Code.PermissionDenied,
      expect.stringContaining("no-shutdown"),
    ]);
    const rows = await auditRows();
    expect(rows).toHaveLength(before + 1);
    expect(rows.at(-1)).toMatchObject({
      kind: "exec",
      technician: "alice",
      outcome: "refused",
      policy_rule: "no-shutdown",
      argv: JSON.stringify(["shutdown", "-h", "now"]),
      channel_id: null,
    });
  });

  it("refuses an environment that sets PATH or LD_PRELOAD, naming the variable, and audits the refusal", async () => {
    for (const name of ["PATH", "LD_PRELOAD"]) {
      const err = (await exec({ params: { argv: ["true"], environment: { [name]: "/tmp/evil" } } }).catch(
        errorOf,
      )) as ConnectError;
      expect([err.code, err.rawMessage]).toEqual([Code.PermissionDenied, expect.stringContaining(name)]);
      expect(await lastRow()).toMatchObject({ outcome: "refused", policy_rule: "roles.tech.allowEnvironment" });
    }
  });

  it("refuses an argv or working directory too long for the audit trail with InvalidArgument, before anything is audited or run", async () => {
    const before = (await auditRows()).length;
    const long = await exec({ params: { argv: ["echo", "x".repeat(40 * 1024)] } }).catch(errorOf);
    expect([(long as ConnectError).code, (long as ConnectError).rawMessage]).toEqual([
      Code.InvalidArgument,
      expect.stringMatching(/argv is longer than 32768/),
    ]);
    // Under the character cap but over the column's bytes once stored: control characters grow sixfold as JSON escapes.
    const escaped = await exec({ params: { argv: ["echo", "\u0001".repeat(30 * 1024)] } }).catch(errorOf);
    expect([(escaped as ConnectError).code, (escaped as ConnectError).rawMessage]).toEqual([
      Code.InvalidArgument,
      expect.stringMatching(/bytes as the audit trail stores it/),
    ]);
    const cwd = await exec({ params: { argv: ["pwd"], workingDirectory: "/" + "d".repeat(5000) } }).catch(errorOf);
    expect([(cwd as ConnectError).code, (cwd as ConnectError).rawMessage]).toEqual([
      Code.InvalidArgument,
      expect.stringMatching(/working_directory is longer than 4096/),
    ]);
    const channel = await ChannelClient.open(alice, {
      sessionId,
      type: ChannelType.EXEC,
      params: { case: "exec", value: { argv: ["echo", "x".repeat(40 * 1024)] } },
    }).catch(errorOf);
    expect((channel as ConnectError).code).toBe(Code.InvalidArgument);
    expect(await auditRows()).toHaveLength(before);
    expect((await exec({ params: { argv: ["true"] } })).exit?.exitCode).toBe(0);
  });

  it("answers bad input with the right code, and the session and agent carry on", async () => {
    const codeOf = async (params: ExecInit["params"]) => (await exec({ params }).catch(errorOf)) as ConnectError;
    expect((await codeOf({ argv: [] })).code).toBe(Code.InvalidArgument);
    const missing = await codeOf({ argv: ["no-such-program-here"] });
    expect([missing.code, missing.rawMessage]).toEqual([
      Code.NotFound,
      expect.stringContaining("no-such-program-here"),
    ]);
    expect((await codeOf({ argv: ["ls"], workingDirectory: "/no/such/dir" })).code).toBe(Code.NotFound);
    expect((await codeOf({ argv: ["ls"], workingDirectory: "/etc/hostname" })).code).toBe(Code.InvalidArgument);
    expect((await codeOf({ argv: ["ls"], environment: { "BAD=NAME": "x" } })).code).toBe(Code.InvalidArgument);

    const badSize = await ChannelClient.open(root, {
      sessionId,
      type: ChannelType.TERMINAL,
      params: { case: "terminal", value: { shell: "/bin/sh", size: { columns: 0, rows: 24 } } },
    }).catch(errorOf);
    expect((badSize as ConnectError).code).toBe(Code.InvalidArgument);

    const terminal = await ChannelClient.open(root, {
      sessionId,
      type: ChannelType.TERMINAL,
      params: { case: "terminal", value: { shell: "/bin/sh" } },
    });
    terminal.resize(20_000, 10);
    expect((await terminal.ended).code).toBe(Code.InvalidArgument);

    const channel = await ChannelClient.open(alice, {
      sessionId,
      type: ChannelType.EXEC,
      params: { case: "exec", value: { argv: ["sleep", "5"] } },
    });
    channel.endInput();
    await channel.write(Buffer.from("too late\n"));
    const end = await channel.ended;
    expect([end.code, end.message]).toEqual([Code.FailedPrecondition, expect.stringContaining("after eof")]);

    expect((await alice.getTunnelStatus({ sessionId })).session?.state).toBe(2 /* ACTIVE */);
    expect((await exec({ params: { argv: ["true"] } })).exit?.exitCode).toBe(0);
    expect(rig.agent.running).toBe(true);
  });

  it("a terminal sees its size and resizes (stty size), exits with the shell's status, and its recording replays to the same bytes", async () => {
    const terminal = await ChannelClient.open(root, {
      sessionId,
      type: ChannelType.TERMINAL,
      params: { case: "terminal", value: { shell: "/bin/sh", size: { columns: 100, rows: 30 } } },
    });
    const received: Buffer[] = [];
    let text = "";
    const reading = (async () => {
      for await (const chunk of terminal.data()) {
        received.push(Buffer.from(chunk));
        text += Buffer.from(chunk).toString();
      }
    })();
    await terminal.write(Buffer.from("stty size\n"));
    await until(() => text.includes("30 100"), "stty to report 30 rows, 100 columns");
    terminal.resize(120, 40);
    await terminal.write(Buffer.from("stty size\n"));
    await until(() => text.includes("40 120"), "stty to report the new size");
    await terminal.write(Buffer.from("printf 'caf\\303\\251 \\342\\234\\223\\n'; exit 7\n"));
    const end = await terminal.ended;
    await reading;
    expect(end.exit?.exitCode).toBe(7);
    expect(text).toContain("café ✓");

    await until(async () => (await lastRow()).outcome === "completed", "the terminal's audit row to complete");
    const row = await lastRow();
    expect(row).toMatchObject({ kind: "terminal", technician: "root", exit_code: 7 });
    expect(row.recording_path).toMatch(/\.cast$/);
    expect(existsSync(row.recording_path!)).toBe(true);
    const [header, ...events] = readFileSync(row.recording_path!, "utf8")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as unknown);
    expect(header).toMatchObject({ version: 2, width: 100, height: 30 });
    expect(events).toContainEqual([expect.any(Number), "r", "120x40"]);
    const replayed = (events as Array<[number, string, string]>)
      .filter((e) => e[1] === "o")
      .map((e) => e[2])
      .join("");
    expect(Buffer.from(replayed)).toEqual(Buffer.concat(received));
  });

  it("closes a terminal with no input or output past the idle timeout, saying why", async () => {
    const terminal = await ChannelClient.open(root, {
      sessionId,
      type: ChannelType.TERMINAL,
      params: { case: "terminal", value: { shell: "/bin/sh" } },
    });
    void (async () => {
      for await (const _ of terminal.data());
    })();
    const end = await terminal.ended;
    expect(end.code).toBe(Code.DeadlineExceeded);
    expect(end.message).toContain("no input or output");
    await until(async () => (await lastRow()).outcome === "timed_out", "the terminal's audit row to say timed_out");
  });

  it("an agent with exec and terminal disabled does not advertise them, and the server refuses them before the agent hears of it", async () => {
    const locked = await rig.startAgent(`locked-${dialect}`, [
      "--disable-channel",
      "exec",
      "--disable-channel",
      "terminal",
    ]);
    const listed = await alice.listAgents({});
    expect(listed.agents.find((a) => a.id === locked.agentId)?.capabilities).toEqual([
      ChannelType.ECHO,
      ChannelType.FILE,
      ChannelType.TCP,
    ]);
    const other = (await alice.openTunnel({ agentId: locked.agentId })).session!.id;
    const err = await (async () => {
      for await (const _ of alice.exec({ sessionId: other, params: { argv: ["true"] } }));
    })().catch(errorOf);
    expect([(err as ConnectError).code, (err as ConnectError).rawMessage]).toEqual([
      Code.Unimplemented,
      expect.stringContaining("does not serve exec channels (it offers echo, file, tcp)"),
    ]);
    await alice.closeTunnel({ sessionId: other });
    await locked.agent.stop();
  });

  it("100 MB of output to a deliberately slow reader arrives whole, with bounded memory on server and agent", async () => {
    const total = 100 * MiB;
    const base = { server: rssBytes(rig.server.proc.pid), agent: rssBytes(rig.agent.pid) };
    const peak = { ...base };
    const sampler = setInterval(() => {
      peak.server = Math.max(peak.server, rssBytes(rig.server.proc.pid));
      peak.agent = Math.max(peak.agent, rssBytes(rig.agent.pid));
    }, 50);
    let received = 0;
    let chunks = 0;
    let exit: ExitStatus | undefined;
    try {
      for await (const res of alice.exec({ sessionId, params: { argv: ["head", "-c", String(total), "/dev/zero"] } })) {
        if (res.kind.case === "output") {
          received += res.kind.value.data.length;
          // Slow: a pause every few chunks keeps the reader far behind the program.
          if (++chunks % 4 === 0) await sleep(2);
        }
        if (res.kind.case === "exit") exit = res.kind.value;
      }
    } finally {
      clearInterval(sampler);
    }
    expect(received).toBe(total);
    expect(exit).toMatchObject({ exitCode: 0, stdoutBytes: BigInt(total) });
    const growth = { server: (peak.server - base.server) / MiB, agent: (peak.agent - base.agent) / MiB };
    console.log(
      `RSS growth over 100 MB to a slow reader: server ${growth.server.toFixed(1)} MiB, agent ${growth.agent.toFixed(1)} MiB`,
    );
    expect(growth.server).toBeLessThan(64);
    expect(growth.agent).toBeLessThan(64);
  }, 180_000);
});
