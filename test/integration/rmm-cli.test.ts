import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExitCode } from "../../cli/cli-error.js";
import { startAgentRig, type AgentRig } from "../../testkit/agent-rig.js";
import { AGENT_MAIN, SERVER_MAIN } from "../../testkit/managed-process.js";
import { CLI_MAIN, runCli, type CliResult } from "../support/run-cli.js";

describe("rmm, the technician's CLI, against a real server and agent", () => {
  let rig: AgentRig;
  let home: string;
  let offlineAgentId: string;
  /** rmm with its own config directory, as a technician's machine would have. */
  const rmm = (args: string[], opts: { env?: Record<string, string>; input?: string } = {}) =>
    runCli(args, { ...opts, env: { XDG_CONFIG_HOME: home, RMM_SERVER: "", RMM_TOKEN: "", ...opts.env } });

  beforeAll(async () => {
    rig = await startAgentRig("sqlite");
    home = mkdtempSync(join(tmpdir(), "rmm-cli-home-"));
    offlineAgentId = await rig.enrollAgent("never-started");
  });
  afterAll(async () => {
    await rig.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it("says to log in when nothing is configured", async () => {
    const r = await rmm(["agents"]);
    expect(r).toMatchObject({ code: ExitCode.Config, stdout: "" });
    expect(r.stderr).toBe("rmm: no server configured: run rmm login --server URL --token TOKEN (or set RMM_SERVER)\n");
  });

  it("refuses a token the server does not accept and stores nothing", async () => {
    const r = await rmm(["login", "--server", rig.url, "--token", "not.a.jwt"]);
    expect(r.code).toBe(ExitCode.Config);
    expect(r.stderr).toMatch(/^rmm: --token is not a JWT/);
    const garbage = await rmm(["agents"], { env: { RMM_SERVER: rig.url, RMM_TOKEN: "garbage" } });
    expect(garbage).toMatchObject({
      code: ExitCode.Config,
      stderr: expect.stringMatching(/^rmm: RMM_TOKEN is not a JWT/),
    });
    const forged = (await rig.mintToken("mallory")).replace(/\.[^.]+$/, ".AAAA");
    const bad = await rmm(["login", "--server", rig.url, "--token", forged]);
    expect(bad.code).toBe(ExitCode.Unauthenticated);
    expect(bad.stderr.split("\n")).toHaveLength(2);
    expect(() => statSync(join(home, "rmm", "config.json"))).toThrow();
  });

  it("logs in with a token read from stdin, keeps it readable only by its owner, and whoami tells who", async () => {
    const login = await rmm(["login", "--server", rig.url], { input: `${await rig.mintToken("alice")}\n` });
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toMatch(
      /^logged in to http:\/\/127\.0\.0\.1:\d+ as alice \(role tech, token expires .+\); saved as context default in .+config\.json\n$/,
    );
    const file = join(home, "rmm", "config.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, "utf8"))).toMatchObject({
      current: "default",
      contexts: { default: { server: rig.url } },
    });
    const who = await rmm(["whoami", "--json"]);
    expect(parsed(who)).toMatchObject({ server: rig.url, subject: "alice", role: "tech" });
  });

  it("lets RMM_SERVER and RMM_TOKEN override the stored login", async () => {
    const who = await rmm(["whoami"], { env: { RMM_TOKEN: await rig.mintToken("bob", "admin") } });
    expect(who.stdout).toMatch(/^bob \(role admin\) on http:\/\/127\.0\.0\.1:\d+/);
    const unreachable = await rmm(["agents"], { env: { RMM_SERVER: "http://127.0.0.1:1" } });
    expect(unreachable.code).toBe(ExitCode.Unavailable);
    expect(unreachable.stderr).toMatch(/^rmm: cannot reach the server .*is it running/);
  });

  it("says the token expired and how to fix it", async () => {
    const r = await rmm(["agents"], { env: { RMM_TOKEN: await rig.mintToken("alice", "tech", -10) } });
    expect(r.code).toBe(ExitCode.Unauthenticated);
    expect(r.stderr).toMatch(/^rmm: token expired at .+: run rmm login --token NEW_TOKEN\n$/);
  });

  it("lists agents as a table and as JSON, online ones only on request", async () => {
    const table = await rmm(["agents"]);
    expect(table.stdout.split("\n")[0]).toMatch(/^ID\s+HOSTNAME\s+OS\s+ONLINE\s+LAST SEEN\s+SESSION\s+LABELS$/);
    expect(table.stdout).toContain(rig.agentId);
    const all = parsed<Array<{ id: string; online: boolean }>>(await rmm(["agents", "--json"]));
    expect(all.map((a) => [a.id, a.online]).sort()).toEqual(
      [
        [rig.agentId, true],
        [offlineAgentId, false],
      ].sort(),
    );
    const online = parsed<Array<{ id: string }>>(await rmm(["agents", "--online", "--json"]));
    expect(online.map((a) => a.id)).toEqual([rig.agentId]);
  });

  it("opens, shows and closes a tunnel by agent id, with JSON that parses", async () => {
    const opened = parsed<{ id: string; state: string }>(await rmm(["tunnel", "open", rig.agentId, "--json"]));
    expect(opened.state).toBe("active");
    const status = parsed<{ id: string; technician: string }>(await rmm(["tunnel", "status", rig.agentId, "--json"]));
    expect(status).toMatchObject({ id: opened.id, technician: "alice" });
    const again = await rmm(["tunnel", "open", rig.agentId]);
    expect(again.code).toBe(ExitCode.Conflict);
    expect(again.stderr).toContain(opened.id);
    const closed = await rmm(["tunnel", "close", opened.id]);
    expect(closed.stdout).toMatch(/state\s+closed\n.*closed_by_technician/s);
  });

  it("explains offline, unknown and ambiguous agents in one line each, with distinct exit codes", async () => {
    const offline = await rmm(["tunnel", "open", offlineAgentId]);
    expect(offline).toMatchObject({
      code: ExitCode.Unavailable,
      stderr: `rmm: agent ${hostnameOf(offline.stderr)} (${offlineAgentId}) is offline (never seen)\n`,
    });
    const unknown = await rmm(["tunnel", "status", "no-such-agent"]);
    expect(unknown).toMatchObject({
      code: ExitCode.NotFound,
      stderr: "rmm: no agent no-such-agent: rmm agents lists the enrolled ones\n",
    });
    // Both enrolled agents run on this machine, so they share a hostname: the online one is taken, and that is said.
    const hostname = hostnameOf(offline.stderr);
    const shared = await rmm(["exec", hostname, "--", "echo", "ok"]);
    expect(shared.code, shared.stderr).toBe(0);
    expect(shared.stderr).toBe(
      `rmm: 2 agents have hostname ${hostname}; using the online one, ${rig.agentId} ` +
        `(offline: ${offlineAgentId}; rmm agents rm ID removes a stale one)\n`,
    );
  });

  it("takes a unique id prefix of at least 4 characters, and says when a prefix is ambiguous or too short", async () => {
    const status = await rmm(["exec", rig.agentId.slice(0, 8), "--", "echo", "ok"]);
    expect(status).toMatchObject({ code: 0, stdout: "ok\n" });
    const short = await rmm(["exec", rig.agentId.slice(0, 3), "--", "echo", "ok"]);
    expect(short).toMatchObject({ code: ExitCode.NotFound });
    let common = 0;
    while (rig.agentId[common] === offlineAgentId[common]) common++;
    if (common >= 4) {
      const both = await rmm(["exec", rig.agentId.slice(0, common), "--", "echo", "ok"]);
      expect(both.code).toBe(ExitCode.Conflict);
    }
  });

  it("prints a usage error as one line and where the help is, and --version on all three programs", async () => {
    const missing = await rmm(["exec", "some-agent"]);
    expect(missing).toMatchObject({
      code: ExitCode.Usage,
      stderr: "rmm: missing required argument 'command'\nsee rmm exec --help\n",
    });
    const unknown = await rmm(["tunnel", "open", "x", "--bogus"]);
    expect(unknown.stderr).toBe("rmm: unknown option '--bogus'\nsee rmm tunnel open --help\n");
    const version = JSON.parse(readFileSync("package.json", "utf8")).version as string;
    for (const main of [CLI_MAIN, SERVER_MAIN, AGENT_MAIN]) {
      const r = await runNode(main, ["--version"]);
      expect(r, main).toEqual({ code: 0, stdout: `${version}\n`, stderr: "" });
    }
  });

  it("keeps named contexts for several servers: login --context, context ls and use, --context on any command", async () => {
    const ctxHome = mkdtempSync(join(tmpdir(), "rmm-contexts-"));
    const run = (args: string[]) => rmm(args, { env: { XDG_CONFIG_HOME: ctxHome } });
    try {
      // A config written before contexts existed is read as the context "default".
      mkdirSync(join(ctxHome, "rmm"));
      writeFileSync(
        join(ctxHome, "rmm", "config.json"),
        JSON.stringify({ server: "http://127.0.0.1:9", token: await rig.mintToken("old") }),
      );
      const bob = await run(["login", "--context", "lab", "--server", rig.url, "--token", await rig.mintToken("bob")]);
      expect(bob.stdout).toMatch(/saved as context lab in /);
      const list = parsed<Array<{ name: string; current: boolean; subject: string }>>(
        await run(["context", "ls", "-o", "json"]),
      );
      expect(list.map(({ name, current, subject }) => ({ name, current, subject }))).toEqual([
        { name: "default", current: false, subject: "old" },
        { name: "lab", current: true, subject: "bob" },
      ]);
      expect((await run(["whoami"])).stdout).toMatch(/^bob /);
      const old = await run(["--context", "default", "agents"]);
      expect(old.code).toBe(ExitCode.Unavailable);
      expect(old.stderr).toMatch(/127\.0\.0\.1:9/);
      expect((await run(["context", "use", "default"])).code).toBe(0);
      expect((await run(["agents", "--context", "lab", "-o", "json"])).code).toBe(0);
      const missing = await run(["--context", "nope", "agents"]);
      expect(missing).toMatchObject({
        code: ExitCode.Config,
        stderr: expect.stringMatching(/^rmm: no context nope: rmm context ls/),
      });
      expect((await run(["context", "use", "nope"])).code).toBe(ExitCode.NotFound);
      expect(statSync(join(ctxHome, "rmm", "config.json")).mode & 0o777).toBe(0o600);
    } finally {
      rmSync(ctxHome, { recursive: true, force: true });
    }
  });

  it("prints completion scripts that bash, zsh and fish parse and that complete commands and flags", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rmm-completion-"));
    try {
      for (const shell of ["bash", "zsh", "fish"]) {
        const r = await rmm(["completion", shell]);
        expect(r.code, r.stderr).toBe(0);
        writeFileSync(join(dir, shell), r.stdout);
      }
      // zsh loads the same function through bashcompinit, so bash must parse both.
      execFileSync("bash", ["-n", join(dir, "bash")]);
      execFileSync("bash", ["-n", join(dir, "zsh")]);
      const complete = (words: string[]) =>
        execFileSync("bash", [
          "-c",
          `source ${join(dir, "bash")}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); ` +
            `COMP_CWORD=${words.length - 1}; _rmm_complete; echo "\${COMPREPLY[@]}"`,
        ])
          .toString()
          .trim();
      expect(complete(["rmm", "tun"])).toBe("tunnel");
      expect(complete(["rmm", "tunnel", "o"])).toBe("open");
      expect(complete(["rmm", "agents", "--on"])).toBe("--online");
      expect(complete(["rmm", "agent", "show", "--out"])).toBe("--output");
      expect(readFileSync(join(dir, "fish"), "utf8")).toMatch(
        /complete -c rmm -n '__fish_use_subcommand' -a completion/,
      );
      // zsh and fish themselves (scripts/ensure-shells.sh installs them): each parses its script and completes from it.
      execFileSync("zsh", ["-n", join(dir, "zsh")]);
      execFileSync("fish", ["-n", join(dir, "fish")]);
      // zsh runs the function through bashcompinit's compgen -F and filters by the typed prefix itself.
      const zshCandidates = (words: string[]) =>
        execFileSync("zsh", [
          "-c",
          `autoload -U compinit && compinit -u; source ${join(dir, "zsh")}; ` +
            `COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; ` +
            `compgen -F _rmm_complete -- '${words.at(-1)}'; print -r -- "PATH=$PATH"`,
        ])
          .toString()
          .trim()
          .split("\n");
      const tunnel = zshCandidates(["rmm", "tunnel", "o"]);
      expect(tunnel.slice(0, -1)).toEqual(["open", "close", "status", "--help"]);
      // The function leaves PATH alone (a local named `path` would have emptied it).
      expect(tunnel.at(-1)).toBe(`PATH=${process.env.PATH}`);
      const fishComplete = (line: string) =>
        execFileSync("fish", ["-c", `source ${join(dir, "fish")}; complete -C '${line}'`])
          .toString()
          .trim()
          .split("\n")
          .map((l) => l.split("\t")[0]);
      expect(fishComplete("rmm tun")).toEqual(["tunnel"]);
      expect(fishComplete("rmm recordings p")).toEqual(["play"]);
      expect(fishComplete("rmm cp --recur")).toEqual(["--recursive"]);
      expect((await rmm(["completion", "tcsh"])).code).toBe(ExitCode.Usage);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("exits 2 with help on a usage error, 0 on --help, and shows examples", async () => {
    const bad = await rmm(["tunnel", "open"]);
    expect(bad.code).toBe(ExitCode.Usage);
    expect(bad.stderr).toMatch(/missing required argument 'agent'/);
    for (const command of [
      [],
      ["login"],
      ["agents"],
      ["tunnel", "open"],
      ["exec"],
      ["shell"],
      ["cp"],
      ["ls"],
      ["stat"],
      ["forward"],
      ["recordings", "ls"],
      ["recordings", "get"],
      ["recordings", "play"],
    ]) {
      const help = await rmm([...command, "--help"]);
      expect(help.code, command.join(" ")).toBe(0);
      if (command.length > 0) expect(help.stdout, command.join(" ")).toMatch(/Examples?:/);
    }
  });
});

/** The JSON a successful command printed; a failure shows its stderr. */
function parsed<T>(r: CliResult): T {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
}

function hostnameOf(offlineMessage: string): string {
  return /^rmm: agent (\S+) \(/.exec(offlineMessage)?.[1] ?? "";
}

/** Runs one of the three programs and collects its exit status and output. */
function runNode(main: string, args: string[]): Promise<CliResult> {
  return new Promise((done) =>
    execFile(process.execPath, [main, ...args], (err, stdout, stderr) =>
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}
