import { randomUUID } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { spawn as spawnPty } from "@lydell/node-pty";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExitCode } from "../../cli/cli-error.js";
import { startAgentRig, type AgentRig } from "../../testkit/agent-rig.js";
import { DIALECTS } from "../../testkit/test-databases.js";
import { renderedLines } from "../support/rendered-lines.js";
import { CLI_MAIN, runCli, type CliResult } from "../support/run-cli.js";
import { treeDigest } from "../support/tree-digest.js";

interface TreeJson {
  files: Array<{ path: string; size: number; resumedFrom: number }>;
  unchanged: string[];
  skipped: string[];
}

describe.each(DIALECTS)("rmm cp -r, several sources, remote globs and home paths (%s)", (dialect) => {
  let rig: AgentRig;
  let work: string;
  let env: Record<string, string>;
  let agent: string;
  const rmm = (args: string[]) => runCli(args, { env });

  beforeAll(async () => {
    rig = await startAgentRig(dialect, { serverExtra: ["--ephemeral-grace", "1s"] });
    work = mkdtempSync(join(tmpdir(), "rmm-cp-tree-"));
    env = { XDG_CONFIG_HOME: join(work, "config"), RMM_SERVER: rig.url, RMM_TOKEN: await rig.mintToken("alice") };
    agent = rig.agentId;
  });
  afterAll(async () => {
    await rig.stop();
    rmSync(work, { recursive: true, force: true });
  });

  /** A small tree: nested directories, empty ones, an executable, a symlink to a file, and a symlink to a directory. */
  function makeTree(root: string): void {
    mkdirSync(join(root, "etc", "conf.d"), { recursive: true });
    mkdirSync(join(root, "bin"));
    mkdirSync(join(root, "var", "cache", "empty"), { recursive: true });
    mkdirSync(join(root, "tmp"));
    writeFileSync(join(root, "README"), "top\n");
    writeFileSync(join(root, "etc", "app.conf"), "a=1\n");
    writeFileSync(join(root, "etc", "conf.d", "10-x.conf"), "x=2\n");
    writeFileSync(join(root, "bin", "run"), "#!/bin/sh\necho hi\n");
    chmodSync(join(root, "bin", "run"), 0o755);
    symlinkSync(join(root, "README"), join(root, "readme-link"));
    symlinkSync(join(root, "etc"), join(root, "etc-link"));
  }

  it("uploads a tree into a directory and downloads it back: same bytes, modes and times; a rerun copies nothing", async () => {
    const local = join(work, "site");
    makeTree(local);
    const remoteParent = join(work, "remote-srv");
    mkdirSync(remoteParent);

    const flat = await rmm(["cp", local, `${agent}:${remoteParent}/`]);
    expect(flat).toMatchObject({
      code: ExitCode.InvalidArgument,
      stderr: `rmm: ${local} is a directory: copy it with rmm cp -r\n`,
    });

    const up = parsed<TreeJson>(await rmm(["cp", "-r", "--json", local, `${agent}:${remoteParent}`]));
    expect(up.files.map((f) => f.path).sort()).toEqual(
      ["README", "bin/run", "etc/app.conf", "etc/conf.d/10-x.conf", "readme-link"].map((p) =>
        join(remoteParent, "site", p),
      ),
    );
    expect(up.skipped, JSON.stringify(up)).toEqual([join(local, "etc-link")]);
    const uploaded = join(remoteParent, "site");
    // The digest lists directories too: the empty ones were created, as scp -r creates them.
    expect(treeDigest(uploaded)).toEqual(treeDigest(local, { except: ["etc-link"], followLinks: true }));
    expect(statSync(join(uploaded, "var", "cache", "empty")).isDirectory()).toBe(true);
    const bare = join(work, "bare");
    mkdirSync(bare);
    expect((await rmm(["cp", "-r", bare, `${agent}:${remoteParent}/`])).code).toBe(0);
    expect(readdirSync(join(remoteParent, "bare"))).toEqual([]);
    expect(statSync(join(uploaded, "bin", "run")).mode & 0o777).toBe(0o755);
    expect(Math.trunc(statSync(join(uploaded, "etc", "app.conf")).mtimeMs)).toBe(
      Math.trunc(statSync(join(local, "etc", "app.conf")).mtimeMs),
    );

    const again = parsed<TreeJson>(await rmm(["cp", "-r", "--json", local, `${agent}:${remoteParent}`]));
    expect(again.files).toEqual([]);
    expect(again.unchanged).toHaveLength(5);

    // A changed file is a conflict without --force, and replaced with it.
    writeFileSync(join(local, "README"), "changed\n");
    expect((await rmm(["cp", "-r", local, `${agent}:${remoteParent}`])).code).toBe(ExitCode.Conflict);
    const forced = parsed<TreeJson>(await rmm(["cp", "-r", "-f", "--json", local, `${agent}:${remoteParent}`]));
    // The symlink to README is copied as the file it points to, so it changed too.
    expect(forced.files.map((f) => f.path)).toEqual([join(uploaded, "README"), join(uploaded, "readme-link")]);
    expect(readFileSync(join(uploaded, "README"), "utf8")).toBe("changed\n");

    // Down into a path that does not exist yet: it becomes the tree's root, empty directories included.
    mkdirSync(join(uploaded, "empty"));
    const back = join(work, "site-back");
    expect((await rmm(["cp", "-r", `${agent}:${uploaded}`, back])).code).toBe(0);
    expect(treeDigest(back)).toEqual(treeDigest(uploaded));
    expect(statSync(join(back, "empty")).isDirectory()).toBe(true);
    expect(statSync(join(back, "bin", "run")).mode & 0o777).toBe(0o755 & ~process.umask());
    // back exists now: the same command would copy into it (back/site), as cp does; dir/ is the contents.
    const down = parsed<TreeJson>(await rmm(["cp", "-r", "--json", `${agent}:${uploaded}/`, back]));
    expect(down).toMatchObject({ files: [], unchanged: expect.arrayContaining([join(back, "README")]) });
    expect(existsSync(join(back, "site"))).toBe(false);
  });

  it("draws one progress bar for a whole tree on a terminal, against the tree's total size", async () => {
    const local = join(work, "bar-tree");
    mkdirSync(join(local, "sub"), { recursive: true });
    // Files of different sizes, so that a bar per file would show sizes other than the tree's.
    for (let i = 0; i < 12; i++)
      writeFileSync(join(local, i % 2 ? "sub" : "", `f${i}.bin`), Buffer.alloc((i + 1) << 16, i));
    const remoteDir = join(work, "bar-remote");
    mkdirSync(remoteDir);
    // Under a pty, as a technician runs it: stderr is a terminal, so the bar is drawn.
    const pty = spawnPty(process.execPath, [CLI_MAIN, "cp", "-r", local, `${agent}:${remoteDir}/`], {
      cols: 160,
      rows: 24,
      env: { ...process.env, ...env, TERM: "xterm" } as Record<string, string>,
    });
    let raw = "";
    pty.onData((d) => (raw += d));
    const code = await new Promise<number>((done) => pty.onExit(({ exitCode }) => done(exitCode)));
    expect(code, raw).toBe(0);
    const total = "4.9 MiB"; // 78 x 64 KiB
    const bar = /\d+% \| [\d.]+ [KMG]?i?B \/ ([\d.]+ [KMG]?i?B) \| .*\/s \| ETA/;
    const screen = renderedLines(raw).filter((l) => l !== "");
    // What is left on screen: one bar at 100% of the whole tree, then the summary.
    expect(
      screen.filter((l) => bar.test(l)),
      raw,
    ).toEqual([expect.stringMatching(new RegExp(`100% \\| ${total} / ${total} `))]);
    expect(screen.at(-1)).toBe(`12 files copied (${78 << 16} bytes)`);
    // And every time it was drawn, it was drawn against the tree's total.
    const drawn = [...raw.replace(/\x1b\[[?0-9;]*[A-Za-z]/g, "").matchAll(new RegExp(bar, "g"))].map((m) => m[1]);
    expect(drawn.length).toBeGreaterThan(0);
    expect(new Set(drawn)).toEqual(new Set([total]));
    expect(treeDigest(join(remoteDir, "bar-tree"))).toEqual(treeDigest(local));
  });

  it("copies several sources into a directory, both ways, and refuses a destination that is not one", async () => {
    const src = join(work, "several");
    mkdirSync(src);
    for (const name of ["a.txt", "b.txt", "c.txt"]) writeFileSync(join(src, name), `${name}\n`);
    const remoteDir = join(work, "several-remote");
    mkdirSync(remoteDir);
    const sources = ["a.txt", "b.txt", "c.txt"].map((n) => join(src, n));
    expect((await rmm(["cp", ...sources, `${agent}:${remoteDir}/`])).code).toBe(0);
    expect(readdirSync(remoteDir).sort()).toEqual(["a.txt", "b.txt", "c.txt"]);
    const notDir = await rmm(["cp", ...sources, `${agent}:${join(remoteDir, "a.txt")}`]);
    expect(notDir).toMatchObject({
      code: ExitCode.InvalidArgument,
      stderr: `rmm: ${agent}:${join(remoteDir, "a.txt")} is not a directory: several sources go into a directory\n`,
    });

    const localDir = join(work, "several-back");
    mkdirSync(localDir);
    const remotes = ["a.txt", "c.txt"].map((n) => `${agent}:${join(remoteDir, n)}`);
    expect((await rmm(["cp", ...remotes, localDir])).code).toBe(0);
    expect(readdirSync(localDir).sort()).toEqual(["a.txt", "c.txt"]);
    const missing = await rmm(["cp", ...remotes, join(work, "no-such-dir")]);
    expect(missing.code).toBe(ExitCode.NotFound);
    expect((await rmm(["cp", `${agent}:${remoteDir}/a.txt`, join(src, "a.txt"), localDir])).code).toBe(ExitCode.Usage);
  });

  it("expands remote globs on the agent's listing: dotfiles only when asked, directories by segment, none is NotFound", async () => {
    const logs = join(work, "logs");
    mkdirSync(join(logs, "app"), { recursive: true });
    mkdirSync(join(logs, "db"));
    for (const name of ["a.log", "b.log", "c.txt", ".hidden.log", "app/d.log", "db/e.log", "db/f.txt"])
      writeFileSync(join(logs, name), name);
    const out = join(work, "logs-out");
    mkdirSync(out);
    expect((await rmm(["cp", `${agent}:${logs}/*.log`, `${out}/`])).code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(["a.log", "b.log"]);
    const nested = join(work, "logs-nested");
    mkdirSync(nested);
    expect((await rmm(["cp", `${agent}:${logs}/*/*.{log,txt}`, nested])).code).toBe(0);
    expect(readdirSync(nested).sort()).toEqual(["d.log", "e.log", "f.txt"]);
    const none = await rmm(["cp", `${agent}:${logs}/*.gz`, out]);
    expect(none).toMatchObject({
      code: ExitCode.NotFound,
      stderr: `rmm: no file on the agent matches ${logs}/*.gz\n`,
    });
    // A glob that matches a directory copies it only with -r.
    const flat = await rmm(["cp", `${agent}:${logs}/a*`, out]);
    expect(flat).toMatchObject({
      code: ExitCode.InvalidArgument,
      stderr: `rmm: ${logs}/app is a directory: copy it with rmm cp -r, or list it with rmm ls\n`,
    });
    expect((await rmm(["cp", "-r", `${agent}:${logs}/[ad]*`, `${out}/`])).code).toBe(0);
    expect(readdirSync(join(out, "app"))).toEqual(["d.log"]);
    expect(readdirSync(join(out, "db")).sort()).toEqual(["e.log", "f.txt"]);
  });

  it("reads remote paths without a leading / as relative to the agent user's home, as scp does", async () => {
    // The agent runs as this test's user, so its home is ours.
    const name = `rmm-home-${randomUUID()}.txt`;
    const local = join(work, name);
    writeFileSync(local, "in the home\n");
    try {
      expect((await rmm(["cp", local, `${agent}:${name}`])).code).toBe(0);
      expect(readFileSync(join(homedir(), name), "utf8")).toBe("in the home\n");
      const listed = parsed<Array<{ name: string }>>(await rmm(["ls", `${agent}:`, "-o", "json"]));
      expect(listed.map((e) => e.name)).toContain(name);
      const back = join(work, "from-home.txt");
      expect((await rmm(["cp", `${agent}:${name}`, back])).code).toBe(0);
      expect(readFileSync(back, "utf8")).toBe("in the home\n");
      const shown = parsed<{ homeDirectory: string }>(await rmm(["agent", "show", agent, "-o", "json"]));
      expect(shown.homeDirectory).toBe(homedir());
    } finally {
      rmSync(join(homedir(), name), { force: true });
    }
    expect(existsSync(join(homedir(), name))).toBe(false);
  });
});

/** The JSON a successful command printed; a failure shows its stderr. */
function parsed<T>(r: CliResult): T {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
}
