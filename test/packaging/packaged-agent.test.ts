import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import type { Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChannelClient } from "../../client/channel-client.js";
import { downloadFile, uploadFile } from "../../client/file-transfer.js";
import { ChannelType } from "../../gen/rmm/v1/frame_pb.js";
import type { TunnelService } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { fileSha256, writeRandomFile } from "../../testkit/file-fixtures.js";
import { canVerifyUnits, verifyUnit } from "../support/systemd-verify.js";
import { startTestServer, type TestServer } from "../support/test-server.js";
import { until } from "../support/until.js";

const run = promisify(execFile);
/** Packaging injects into a 100 MB binary and gzips it: about 30 s on the 2-core machine. */
const PACKAGE_TIMEOUT_MS = 180_000;

/** A packaged agent process whose JSON log lines the test can wait on. */
class PackagedAgent {
  readonly logs: Array<{ msg?: string }> = [];
  readonly child: ChildProcess;
  constructor(executable: string, args: string[], cwd: string) {
    // No node on PATH, no NODE_* settings, a working directory without node_modules: only the package itself.
    this.child = spawn(executable, args, {
      cwd,
      env: { PATH: "/usr/local/sbin:/usr/sbin:/sbin", RMM_LOG_LEVEL: "info", HOME: cwd, SHELL: "/bin/sh" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    createInterface({ input: this.child.stderr! }).on("line", (line) => {
      try {
        this.logs.push(JSON.parse(line) as { msg?: string });
      } catch {
        this.logs.push({ msg: line });
      }
    });
  }
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.kill("SIGTERM");
    await exited;
  }
}

describe("the packaged agent (one archive: a single executable and its PTY addon)", () => {
  let work: string;
  let unpacked: string;
  let executable: string;
  let server: TestServer;
  let agent: PackagedAgent | undefined;
  let alice: Client<typeof TunnelService>;
  let agentId: string;
  let sessionId: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "rmm-package-"));
    const { stdout } = await run(process.execPath, ["scripts/package-agent.mjs", "--out", join(work, "out")], {
      maxBuffer: 1 << 20,
    });
    const built = JSON.parse(stdout.trim().split("\n").pop()!) as { archive: string };
    unpacked = join(work, "unpacked");
    mkdirSync(unpacked);
    await run("tar", ["-xzf", built.archive, "-C", unpacked]);
    rmSync(join(work, "out"), { recursive: true, force: true });
    const [dir] = readdirSync(unpacked);
    executable = join(unpacked, dir!, "rmm-agent");
    server = await startTestServer(`sqlite:${join(work, "server.sqlite")}`);
  }, PACKAGE_TIMEOUT_MS);
  afterAll(async () => {
    await agent?.stop();
    await server?.dispose();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("holds only the executable, a README and the addon's prebuilt binary", () => {
    const dir = join(executable, "..");
    expect(readdirSync(dir).sort()).toEqual(["README.txt", "node_modules", "rmm-agent"]);
    expect(readdirSync(join(dir, "node_modules", "@lydell"))).toEqual(["node-pty-linux-x64"]);
    expect(statSync(executable).mode & 0o111).not.toBe(0);
  });

  it("enrolls and runs without node, npm or the repository", async () => {
    const token = await server.server.issuer.mintEnrollment(600);
    const state = join(work, "agent", "state.json");
    const { stdout } = await run(executable, ["enroll", "--server", server.url, "--token", token, "--state", state], {
      cwd: work,
      env: { PATH: "/usr/sbin:/sbin" },
    });
    agentId = /enrolled as (\S+);/.exec(stdout)![1]!;
    expect(statSync(state).mode & 0o777).toBe(0o600);
    agent = new PackagedAgent(executable, ["run", "--state", state], work);
    await until(
      () => agent!.logs.some((e) => e.msg === "connecting -> heartbeat"),
      "the packaged agent to connect",
      20_000,
    );
    alice = await server.technician("alice", "admin");
    sessionId = (await alice.openTunnel({ agentId })).session!.id;
  });

  it("runs a command", async () => {
    let output = "";
    let exitCode: number | undefined;
    for await (const res of alice.exec({
      sessionId,
      params: { argv: ["/bin/sh", "-c", "echo packaged $((6 * 7))"] },
    })) {
      if (res.kind.case === "output") output += Buffer.from(res.kind.value.data).toString();
      if (res.kind.case === "exit") exitCode = res.kind.value.exitCode;
    }
    expect([output, exitCode]).toEqual(["packaged 42\n", 0]);
  });

  it("opens a shell on a PTY through the addon it carries", async () => {
    const terminal = await ChannelClient.open(alice, {
      sessionId,
      type: ChannelType.TERMINAL,
      params: { case: "terminal", value: { shell: "/bin/sh", size: { columns: 90, rows: 25 } } },
    });
    let text = "";
    const reading = (async () => {
      for await (const chunk of terminal.data()) text += Buffer.from(chunk).toString();
    })();
    // PATH lacks /usr/bin (where node lives here), so the tools are named by path.
    await terminal.write(Buffer.from("/usr/bin/tty; /usr/bin/stty size; exit 3\n"));
    const end = await terminal.ended;
    await reading;
    expect(text).toMatch(/\/dev\/pts\/\d+/);
    expect(text).toContain("25 90");
    expect(end.exit?.exitCode).toBe(3);
  });

  it("uploads and downloads a file, hash checked", async () => {
    const local = join(work, "up.bin");
    const sha = writeRandomFile(local, 1_000_000);
    const remote = join(work, "remote.bin");
    await uploadFile(alice, { sessionId, localPath: local, remotePath: remote });
    expect(fileSha256(remote)).toBe(sha);
    await downloadFile(alice, { sessionId, remotePath: remote, localPath: join(work, "down.bin") });
    expect(fileSha256(join(work, "down.bin"))).toBe(sha);
    await alice.closeTunnel({ sessionId });
    await agent!.stop();
  });

  it("installs itself under a staging root (systemd not running here: says so and prints the unit), runs from there, and uninstalls", async () => {
    const root = join(work, "root");
    const token = await server.server.issuer.mintEnrollment(600);
    const { stdout } = await run(
      executable,
      [
        "install",
        "--server",
        server.url,
        "--token",
        token,
        "--root",
        root,
        "--run-arg=--file-root",
        "--run-arg=/srv/rmm files",
        "--label",
        "site=berlin",
        "--label",
        "role=db",
      ],
      { cwd: work, env: { PATH: "/usr/sbin:/sbin" } },
    );
    const installedId = /^enrolled as (\S+); state in .*\/var\/lib\/rmm-agent\/state\.json$/m.exec(stdout)?.[1];
    expect(installedId).toBeDefined();
    expect(stdout).toContain(`staged under ${root}: systemctl was not run`);
    expect(stdout).toContain(
      'ExecStart=/opt/rmm-agent/rmm-agent run --state /var/lib/rmm-agent/state.json --file-root "/srv/rmm files"',
    );
    const unit = readFileSync(join(root, "etc/systemd/system/rmm-agent.service"), "utf8");
    expect(stdout.endsWith(unit)).toBe(true);
    expect(unit).toMatch(/^NoNewPrivileges=yes$/m);
    expect(unit).toMatch(/^StateDirectory=rmm-agent$/m);
    expect(existsSync(join(root, "opt/rmm-agent/node_modules/@lydell/node-pty-linux-x64/pty.node"))).toBe(true);
    const state = join(root, "var/lib/rmm-agent/state.json");
    expect(statSync(state).mode & 0o777).toBe(0o600);
    if (canVerifyUnits) expect(await verifyUnit(root, "rmm-agent.service")).toBe("");

    const installed = new PackagedAgent(join(root, "opt/rmm-agent/rmm-agent"), ["run", "--state", state], work);
    try {
      await until(
        () => installed.logs.some((e) => e.msg === "connecting -> heartbeat"),
        "the installed copy to connect",
        20_000,
      );
      // The labels given to install reach the server on the service's first stream.
      let reported: Record<string, string> = {};
      await until(async () => {
        reported = (await alice.getAgent({ agentId: installedId! })).agent?.reportedLabels ?? {};
        return Object.keys(reported).length > 0;
      }, "the installed agent's labels to be stored");
      expect(reported).toEqual({ site: "berlin", role: "db" });
    } finally {
      await installed.stop();
    }

    const removed = await run(executable, ["uninstall", "--root", root, "--purge"], { cwd: work });
    expect(removed.stdout).toContain(`removed ${join(root, "etc/systemd/system/rmm-agent.service")}`);
    expect(existsSync(join(root, "opt/rmm-agent"))).toBe(false);
    expect(existsSync(state)).toBe(false);
  }, 60_000);
});
