import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { ExitCode } from "../../cli/cli-error.js";
import { startAgentRig, type AgentRig } from "../../testkit/agent-rig.js";
import { CLI_MAIN, runCli } from "../support/run-cli.js";
import { until } from "../support/until.js";

describe("rmm answers a technician's mistakes and a failing server with the right exit status and flags", () => {
  let rig: AgentRig;
  let home: string;
  let files: string;
  let env: Record<string, string>;
  const rmm = (args: string[]) => runCli(args, { env });

  beforeAll(async () => {
    rig = await startAgentRig("sqlite");
    home = mkdtempSync(join(tmpdir(), "rmm-cli-home-"));
    files = mkdtempSync(join(tmpdir(), "rmm-cli-files-"));
    env = { XDG_CONFIG_HOME: home, RMM_SERVER: rig.url, RMM_TOKEN: await rig.mintToken("alice") };
    writeFileSync(join(files, "file"), "x");
    mkdirSync(join(files, "dir"));
  });
  afterAll(async () => {
    await rig.stop();
    rmSync(home, { recursive: true, force: true });
    rmSync(files, { recursive: true, force: true });
  });

  /** Runs rmm exec in the background until the remote program printed "go". */
  async function execUntilGo(): Promise<{ exited: Promise<number | null>; stderr: () => string }> {
    const child = spawn(
      process.execPath,
      [CLI_MAIN, "exec", rig.agentId, "--", "sh", "-c", "echo go; exec sleep 300"],
      {
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    let err = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((done) => child.on("close", done));
    await until(() => out.includes("go"), "the remote program to start");
    return { exited, stderr: () => err };
  }

  it("lists a file as a wrong path (9), not as an offline agent", async () => {
    const r = await rmm(["ls", `${rig.agentId}:${files}/file`]);
    expect(r).toMatchObject({ code: ExitCode.InvalidArgument, stderr: expect.stringMatching(/ENOTDIR/) });
  });

  it("refuses to download a directory with 9, pointing at rmm cp -r and rmm ls", async () => {
    const r = await rmm(["cp", `${rig.agentId}:${files}/dir`, join(files, "out")]);
    expect(r).toEqual({
      code: ExitCode.InvalidArgument,
      stdout: "",
      stderr: `rmm: ${files}/dir is a directory: copy it with rmm cp -r, or list it with rmm ls\n`,
    });
  });

  it("names the flags, not the API fields, for an existing file and a missing parent; a relative path is under the home", async () => {
    const exists = await rmm(["cp", join(files, "file"), `${rig.agentId}:${files}/file`]);
    expect(exists).toMatchObject({
      code: ExitCode.Conflict,
      stderr: `rmm: ${files}/file already exists: pass -f (--force) to replace it\n`,
    });
    const local = await rmm(["cp", `${rig.agentId}:${files}/file`, join(files, "file")]);
    expect(local.stderr).toBe(`rmm: ${files}/file already exists: pass -f (--force) to replace it\n`);
    const parent = await rmm(["cp", join(files, "file"), `${rig.agentId}:${files}/no-dir/file`]);
    expect(parent).toMatchObject({
      code: ExitCode.NotFound,
      stderr: `rmm: directory ${files}/no-dir does not exist: create it, or pass -p (--parents) to rmm cp\n`,
    });
    // Relative to the agent user's home, as scp reads it (the agent runs as this test's user).
    const relative = await rmm(["ls", `${rig.agentId}:rmm-no-such-dir/path`]);
    expect(relative).toMatchObject({
      code: ExitCode.NotFound,
      stderr: expect.stringContaining(`${homedir()}/rmm-no-such-dir/path`),
    });
  });

  it("exits 10 when exec --timeout ends the command", async () => {
    const r = await rmm(["exec", "--timeout", "1s", rig.agentId, "--", "sleep", "30"]);
    expect(r).toEqual({
      code: ExitCode.Timeout,
      stdout: "",
      stderr: "rmm: the command timed out after 1s and was ended\n",
    });
  });

  it("keeps the source's mode on a download, masked by the umask, as scp does", async () => {
    writeFileSync(join(files, "tool"), "#!/bin/sh\n");
    chmodSync(join(files, "tool"), 0o775);
    const r = await rmm(["cp", `${rig.agentId}:${files}/tool`, join(files, "tool-copy")]);
    expect(r.code, r.stderr).toBe(0);
    expect(statSync(join(files, "tool-copy")).mode & 0o777).toBe(0o775 & ~process.umask());
  });

  it("prints exec -o json as one JSON object per output chunk, then the exit status", async () => {
    const r = await rmm(["exec", rig.agentId, "-o", "json", "--", "sh", "-c", "printf out; printf err >&2; exit 3"]);
    expect(r.code, r.stderr).toBe(3);
    const events = r.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { type: string; stream?: string; data?: string });
    const text = (stream: string) =>
      events
        .filter((e) => e.type === "output" && e.stream === stream)
        .map((e) => e.data)
        .join("");
    expect(text("stdout")).toBe("out");
    expect(text("stderr")).toBe("err");
    expect(events.at(-1)).toEqual({ type: "exit", exitCode: 3, signal: null, timedOut: false });
    const binary = await rmm(["exec", rig.agentId, "-o", "json", "--", "printf", "\\377"]);
    expect(JSON.parse(binary.stdout.split("\n")[0]!)).toEqual({ type: "output", stream: "stdout", dataBase64: "/w==" });
  });

  it("lists a directory and shows a tunnel as yaml and json with -o", async () => {
    const r = await rmm(["ls", `${rig.agentId}:${files}`, "-o", "yaml"]);
    expect(r.code, r.stderr).toBe(0);
    const entries = parseYaml(r.stdout) as Array<{ name: string; kind: string }>;
    expect(entries.map((e) => `${e.name}:${e.kind}`).sort()).toEqual(
      expect.arrayContaining(["dir:directory", "file:file"]),
    );
    const opened = await rmm(["tunnel", "open", rig.agentId, "-o", "json"]);
    const session = JSON.parse(opened.stdout) as { id: string; state: string };
    expect(session.state).toBe("active");
    const closed = await rmm(["tunnel", "close", session.id, "-o", "yaml"]);
    expect(parseYaml(closed.stdout)).toMatchObject({ id: session.id, state: "closed" });
  });

  it("says the agent disconnected (7) when it goes away under a command", async () => {
    const exec = await execUntilGo();
    await rig.agent.stop("SIGKILL");
    expect(await exec.exited).toBe(ExitCode.Unavailable);
    expect(exec.stderr()).toMatch(/^rmm: the agent disconnected \(session closed: agent_disconnected\)/);
    await rig.restartAgent();
  });

  // Last: the server does not come back.
  it("says the connection to the server was lost (7), not interrupted (130), when the server crashes", async () => {
    const exec = await execUntilGo();
    await rig.server.proc.stop("SIGKILL");
    expect(await exec.exited).toBe(ExitCode.Unavailable);
    expect(exec.stderr()).toMatch(/^rmm: lost the connection to the server \(.*\): is it still running\?\n$/);
  });
});
