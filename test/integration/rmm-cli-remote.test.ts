import { spawn as spawnProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn as spawnPty } from "@lydell/node-pty";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExitCode } from "../../cli/cli-error.js";
import { startAgentRig, type AgentRig } from "../../testkit/agent-rig.js";
import { CLI_MAIN, runCli, type CliResult } from "../support/run-cli.js";
import { until } from "../support/until.js";

describe("rmm exec, shell and cp against a real server and agent", () => {
  let rig: AgentRig;
  let home: string;
  let files: string;
  let env: Record<string, string>;
  const rmm = (args: string[], opts: { input?: string | Buffer } = {}) => runCli(args, { ...opts, env });

  beforeAll(async () => {
    rig = await startAgentRig("sqlite", { serverExtra: ["--ephemeral-grace", "5s"] });
    home = mkdtempSync(join(tmpdir(), "rmm-cli-home-"));
    files = mkdtempSync(join(tmpdir(), "rmm-cli-files-"));
    env = { XDG_CONFIG_HOME: home, RMM_SERVER: rig.url, RMM_TOKEN: await rig.mintToken("alice") };
  });
  afterAll(async () => {
    await rig.stop();
    rmSync(home, { recursive: true, force: true });
    rmSync(files, { recursive: true, force: true });
  });

  /** Every session the technician opened for a one-off command is released by the server after its grace. */
  async function expectNoActiveSession(): Promise<void> {
    await until(
      async () => {
        const agents = parsed<Array<{ id: string; activeSessionId: string | null }>>(await rmm(["agents", "--json"]));
        return agents.find((a) => a.id === rig.agentId)?.activeSessionId === null;
      },
      "the command's session to be released",
      15_000,
    );
  }

  describe("exec", () => {
    it("keeps stdout and stderr apart and exits with the remote exit code", async () => {
      const r = await rmm(["exec", rig.agentId, "--", "sh", "-c", "echo out; echo err >&2; exit 3"]);
      expect(r).toEqual({ code: 3, stdout: "out\n", stderr: "err\n" });
      await expectNoActiveSession();
    });

    it("exits 128 + the signal when the remote program is killed by one", async () => {
      const r = await rmm(["exec", rig.agentId, "--", "sh", "-c", "kill -TERM $$"]);
      expect(r.code).toBe(128 + 15);
    });

    it("forwards piped stdin to the remote program and closes it at the end", async () => {
      const input = randomBytes(3 * 1024 * 1024);
      const r = await rmm(["exec", rig.agentId, "--", "wc", "-c"], { input });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe(String(input.length));
    });

    it("runs a command line through an explicit shell", async () => {
      const r = await rmm(["exec", rig.agentId, "--shell", "/bin/sh", "--", "echo abc | tr a-c x-z"]);
      expect(r).toMatchObject({ code: 0, stdout: "xyz\n" });
    });

    it("says a missing program is not found, with its own exit status, and leaves no session open", async () => {
      const r = await rmm(["exec", rig.agentId, "--", "/no/such/program"]);
      expect(r.code).toBe(ExitCode.NotFound);
      expect(r.stderr).toMatch(/^rmm: .*\/no\/such\/program.*\n$/);
      await expectNoActiveSession();
    });

    it("ends the remote process tree on Ctrl-C and exits 130", async () => {
      const child = spawnProcess(
        process.execPath,
        [CLI_MAIN, "exec", rig.agentId, "--", "sh", "-c", "echo $$; exec sleep 300"],
        { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] },
      );
      let stdout = "";
      child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
      const exited = new Promise<number | null>((done) => child.on("close", done));
      await until(() => /^\d+\n/.test(stdout), "the remote shell to print its pid", 15_000);
      const remotePid = Number(stdout.trim());
      expect(isRunning(remotePid)).toBe(true);
      child.kill("SIGINT");
      expect(await exited).toBe(ExitCode.Interrupted);
      await until(() => !isRunning(remotePid), "the remote sleep to be gone");
      await expectNoActiveSession();
    });
  });

  describe("shell", () => {
    it("runs a remote shell on a real pseudo-terminal: sizes, resize, exit status, and the local terminal restored", async () => {
      const pty = spawnPty(
        "/bin/sh",
        ["-c", `"${process.execPath}" "${CLI_MAIN}" shell ${rig.agentId} --shell /bin/sh; echo EXIT=$?; stty -a`],
        {
          cols: 80,
          rows: 24,
          env: { ...process.env, ...env, TERM: "xterm" } as Record<string, string>,
        },
      );
      let screen = "";
      pty.onData((d) => (screen += d));
      const exited = new Promise<number>((done) => pty.onExit(({ exitCode }) => done(exitCode)));
      try {
        // Each command echoes a marker of its own, so a match cannot be the typed line itself.
        const run = async (command: string, expected: RegExp) => {
          pty.write(`${command}; echo "=DONE""="\r`);
          await until(
            () => /=DONE=/.test(screen),
            `"${command}" to answer (screen so far: ${JSON.stringify(screen.slice(-300))})`,
            15_000,
          );
          const answer = screen;
          screen = "";
          expect(answer).toMatch(expected);
        };
        await run("stty size", /24 80/);
        pty.resize(120, 40);
        // SIGWINCH and the next typed line race inside rmm, so the size is asked until the resize has arrived.
        await until(async () => {
          screen = "";
          pty.write(`stty size; echo "=DONE""="\r`);
          await until(() => /=DONE=/.test(screen), "stty size to answer", 15_000);
          return /40 120/.test(screen);
        }, "the remote terminal to take the new size");
        screen = "";
        pty.write("exit 7\r");
        await exited;
        expect(screen).toContain("EXIT=7");
        // stty -a after rmm exited: canonical mode and echo are back on.
        expect(screen).toMatch(/(^|\s)icanon(\s|$)/m);
        expect(screen).toMatch(/(^|\s)echo(\s|$)/m);
      } finally {
        pty.kill();
      }
    });

    it("leaves a session with ~. after a newline (exit 130), lists escapes on ~?, and ends the remote shell", async () => {
      const pty = spawnPty(
        "/bin/sh",
        ["-c", `"${process.execPath}" "${CLI_MAIN}" shell ${rig.agentId} --shell /bin/sh; echo EXIT=$?`],
        { cols: 80, rows: 24, env: { ...process.env, ...env, TERM: "xterm" } as Record<string, string> },
      );
      let screen = "";
      pty.onData((d) => (screen += d));
      const exited = new Promise<number>((done) => pty.onExit(({ exitCode }) => done(exitCode)));
      try {
        pty.write(`echo $$; echo "=PID""="\r`);
        await until(() => /(\d+)\r*\n=PID=/.test(screen), "the remote shell to print its pid", 15_000);
        const remotePid = Number(/(\d+)\r*\n=PID=/.exec(screen)![1]);
        pty.write("~?");
        await until(() => screen.includes("~.  leave the session"), "the escape help");
        // Hang the remote shell; ~. must still get out.
        pty.write("sleep 300\r");
        pty.write("~.");
        await exited;
        expect(screen).toContain("EXIT=130");
        expect(screen).toContain("rmm: left the session with ~.: the remote shell was ended");
        await until(() => !isRunning(remotePid), "the remote shell to be ended");
        await expectNoActiveSession();
      } finally {
        pty.kill();
      }
    });
  });

  describe("cp", () => {
    it("copies a file up and back down, byte-identical and hash-verified", async () => {
      const local = join(files, "round-trip.bin");
      writeFileSync(local, randomBytes(5 * 1024 * 1024 + 17));
      const remote = join(files, "remote", "nested", "round-trip.bin");
      const up = parsed<{ direction: string; path: string; size: number; sha256: string }>(
        await rmm(["cp", "--parents", "--json", local, `${rig.agentId}:${remote}`]),
      );
      expect(up).toMatchObject({
        direction: "upload",
        path: remote,
        size: statSync(local).size,
        sha256: await sha256(local),
      });
      const back = join(files, "back.bin");
      const down = parsed<{ sha256: string }>(await rmm(["cp", "--json", `${rig.agentId}:${remote}`, back]));
      expect(down.sha256).toBe(up.sha256);
      expect(readFileSync(back).equals(readFileSync(local))).toBe(true);
      await expectNoActiveSession();
    });

    it("refuses to replace an existing file without --force, on either side", async () => {
      const local = join(files, "exists.txt");
      writeFileSync(local, "local\n");
      const remote = join(files, "remote-exists.txt");
      writeFileSync(remote, "remote\n");
      const up = await rmm(["cp", local, `${rig.agentId}:${remote}`]);
      expect(up.code).toBe(ExitCode.Conflict);
      expect(readFileSync(remote, "utf8")).toBe("remote\n");
      const down = await rmm(["cp", `${rig.agentId}:${remote}`, local]);
      expect(down.code).toBe(ExitCode.Conflict);
      expect(readFileSync(local, "utf8")).toBe("local\n");
      expect((await rmm(["cp", "--force", `${rig.agentId}:${remote}`, local])).code).toBe(0);
      expect(readFileSync(local, "utf8")).toBe("remote\n");
    });

    it("keeps the source's name when the destination is a directory", async () => {
      const dir = join(files, "into-dir");
      mkdirSync(dir);
      const local = join(files, "named.txt");
      writeFileSync(local, "named\n");
      expect((await rmm(["cp", local, `${rig.agentId}:${dir}/`])).code).toBe(0);
      expect(readFileSync(join(dir, "named.txt"), "utf8")).toBe("named\n");
      const downDir = mkdtempSync(join(files, "down-"));
      expect((await rmm(["cp", `${rig.agentId}:${join(dir, "named.txt")}`, downDir])).code).toBe(0);
      expect(readFileSync(join(downDir, "named.txt"), "utf8")).toBe("named\n");
    });

    it("resumes an interrupted upload and an interrupted download from the bytes already there", async () => {
      const source = join(files, "big.bin");
      // Large enough that a Ctrl-C after the first 8 MiB lands mid-transfer; the 1,000-file tree with a
      // 100 MiB file in rmm-cli-copy-resume.test.ts covers resuming after a kill at size.
      writeFileSync(source, randomBytes(96 * 1024 * 1024));
      const expected = await sha256(source);

      const uploadDir = mkdtempSync(join(files, "up-"));
      const target = join(uploadDir, "big.bin");
      await interruptOnceBytesArrive(["cp", source, `${rig.agentId}:${target}`], uploadDir);
      expect(existsSync(target)).toBe(false);
      const up = parsed<{ sha256: string; resumedFrom: number }>(
        await rmm(["cp", "--json", source, `${rig.agentId}:${target}`]),
      );
      expect(up.resumedFrom).toBeGreaterThan(0);
      expect(up.sha256).toBe(expected);
      expect(await sha256(target)).toBe(expected);

      const downloadDir = mkdtempSync(join(files, "down-"));
      const local = join(downloadDir, "big.bin");
      await interruptOnceBytesArrive(["cp", `${rig.agentId}:${target}`, local], downloadDir);
      expect(existsSync(local)).toBe(false);
      const down = parsed<{ sha256: string; resumedFrom: number }>(
        await rmm(["cp", "--json", `${rig.agentId}:${target}`, local]),
      );
      expect(down.resumedFrom).toBeGreaterThan(0);
      expect(await sha256(local)).toBe(expected);
      rmSync(source);
    }, 120_000);

    it("says which path is wrong when the remote file does not exist", async () => {
      const r = await rmm(["cp", `${rig.agentId}:/no/such/file`, join(files, "never")]);
      expect(r.code).toBe(ExitCode.NotFound);
      expect(r.stderr).toMatch(/^rmm: .*\/no\/such\/file.*\n$/);
      expect(existsSync(join(files, "never"))).toBe(false);
    });

    it("rejects copies that name no agent or two", async () => {
      expect((await rmm(["cp", "a", "b"])).code).toBe(ExitCode.Usage);
      expect((await rmm(["cp", `${rig.agentId}:/a`, `${rig.agentId}:/b`])).code).toBe(ExitCode.Usage);
    });

    /** Starts `rmm cp`, waits until part of the file sits in `dir` (the partial beside the target), then sends Ctrl-C. */
    async function interruptOnceBytesArrive(args: string[], dir: string): Promise<void> {
      const child = spawnProcess(process.execPath, [CLI_MAIN, ...args], {
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stderr = "";
      child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
      const exited = new Promise<number | null>((done) => child.on("close", done));
      await until(
        () => readdirSync(dir).some((name) => statSync(join(dir, name)).size > 8 * 1024 * 1024),
        "part of the file to arrive",
        30_000,
      );
      child.kill("SIGINT");
      expect(await exited, stderr).toBe(ExitCode.Interrupted);
      expect(stderr).toMatch(/run the same command again to resume/);
    }
  });
});

function parsed<T>(r: CliResult): T {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function sha256(path: string): Promise<string> {
  return new Promise((done, fail) => {
    const hash = createHash("sha256");
    createReadStream(path)
      .on("data", (b) => hash.update(b))
      .on("end", () => done(hash.digest("hex")))
      .on("error", fail);
  });
}
