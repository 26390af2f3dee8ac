import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExitCode } from "../../cli/cli-error.js";
import { startAgentRig, type AgentRig } from "../../testkit/agent-rig.js";
import { CLI_BUNDLE, runCli } from "../support/run-cli.js";

describe("the bundled rmm bin (dist/rmm/rmm.js), against a real server and agent", () => {
  let rig: AgentRig;
  let home: string;
  let env: Record<string, string>;
  const rmm = (args: string[], input?: string) =>
    runCli(args, { main: CLI_BUNDLE, env, ...(input !== undefined && { input }) });

  beforeAll(async () => {
    rig = await startAgentRig("sqlite");
    home = mkdtempSync(join(tmpdir(), "rmm-bundle-home-"));
    env = { XDG_CONFIG_HOME: home, RMM_SERVER: rig.url, RMM_TOKEN: await rig.mintToken("alice") };
  });
  afterAll(async () => {
    await rig.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it("prints the version of package.json, and help listing every command", async () => {
    const { version } = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };
    expect(await rmm(["--version"])).toMatchObject({ code: 0, stdout: `${version}\n` });
    const help = await rmm(["--help"]);
    expect(help.code).toBe(0);
    for (const name of ["login", "agents", "tunnel", "exec", "shell", "cp", "ls", "forward", "jobs", "mcp", "audit"])
      expect(help.stdout).toMatch(new RegExp(`^  ${name} `, "m"));
  });

  it("runs a command on the agent with its stdin, output and exit status", async () => {
    const r = await rmm(["exec", rig.agentId, "--shell", "/bin/sh", "--", "cat; echo oops >&2; exit 3"], "hi\n");
    expect(r).toMatchObject({ code: 3, stdout: "hi\n", stderr: "oops\n" });
  });

  it("copies a file to the agent and back", async () => {
    const local = join(home, "up.txt");
    writeFileSync(local, "through the bundle\n");
    const remote = join(rig.dir, "copied.txt");
    expect((await rmm(["cp", local, `${rig.agentId}:${remote}`])).code).toBe(0);
    expect(readFileSync(remote, "utf8")).toBe("through the bundle\n");
    const back = join(home, "back.txt");
    expect((await rmm(["cp", `${rig.agentId}:${remote}`, back])).code).toBe(0);
    expect(readFileSync(back, "utf8")).toBe("through the bundle\n");
  });

  it("answers a usage error in one line with exit status 2, and an unknown agent with 6", async () => {
    const usage = await rmm(["exec"]);
    expect(usage.code).toBe(ExitCode.Usage);
    expect(usage.stderr.trim().split("\n")).toHaveLength(2);
    expect((await rmm(["exec", "no-such-agent", "--", "true"])).code).toBe(ExitCode.NotFound);
  });
});
