import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgentRig, type AgentRig } from "../../testkit/agent-rig.js";
import { writeLargeRandomFile } from "../../testkit/file-fixtures.js";
import { CLI_MAIN, runCli, type CliResult } from "../support/run-cli.js";
import { treeDigest } from "../support/tree-digest.js";
import { until } from "../support/until.js";

interface TreeJson {
  files: Array<{ path: string; resumedFrom: number }>;
  unchanged: string[];
}

const SMALL_FILES = 1_000;
const BIG_BYTES = 100 * 1024 * 1024;
/** The big file sorts last, so the small ones are copied before it and the cut falls inside it. */
const BIG = "zz-big.bin";
/**
 * The cut comes once this much of the big file arrived: early, so that even
 * a fast machine (100 MiB in well under a second) leaves the poll (every
 * 25 ms) time to see it before the file is complete.
 */
const CUT_AFTER_BYTES = 1024 * 1024;

// One store: the copy exercises files, not the database (the other rmm cp tests run on both).
describe("rmm cp -r of 1,000 files and a 100 MiB file, killed mid-transfer and run again", () => {
  let rig: AgentRig;
  let work: string;
  let tree: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    rig = await startAgentRig("sqlite", { serverExtra: ["--ephemeral-grace", "1s"] });
    work = mkdtempSync(join(tmpdir(), "rmm-cp-resume-"));
    env = { XDG_CONFIG_HOME: join(work, "config"), RMM_SERVER: rig.url, RMM_TOKEN: await rig.mintToken("alice") };
    tree = join(work, "tree");
    for (let i = 0; i < SMALL_FILES; i++) {
      const dir = join(tree, `part-${String(i % 10).padStart(2, "0")}`);
      if (i < 10) mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `file-${i}.dat`), randomBytes(1 + (i % 4096)));
    }
    await writeLargeRandomFile(join(tree, BIG), BIG_BYTES);
  }, 60_000);
  afterAll(async () => {
    await rig.stop();
    rmSync(work, { recursive: true, force: true });
  });

  /** Starts `rmm cp`, waits until more than CUT_AFTER_BYTES of the big file's partial sits in `dir`, then kills the CLI. */
  async function killMidTransfer(args: string[], dir: string): Promise<void> {
    const child = spawn(process.execPath, [CLI_MAIN, ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    let ended: string | undefined;
    const exited = new Promise<NodeJS.Signals | null>((done) =>
      child.on("close", (code, signal) => {
        ended = `exit ${code}, signal ${signal}`;
        done(signal);
      }),
    );
    await until(
      () => {
        // A copy that ended before the cut cannot test a resume: fail at once, saying how it ended.
        if (ended) throw new Error(`rmm cp ended before it was killed (${ended}): ${stderr}`);
        return (
          existsSync(dir) &&
          readdirSync(dir).some((n) => n.startsWith(`.${BIG}`) && statSync(join(dir, n)).size > CUT_AFTER_BYTES)
        );
      },
      `part of ${BIG} to arrive in ${dir}`,
      120_000,
    );
    child.kill("SIGKILL");
    expect(await exited).toBe("SIGKILL");
    expect(existsSync(join(dir, BIG))).toBe(false);
  }

  /** The rerun: everything copied before the kill is left alone, the big file resumes, the trees match. */
  function expectResumed(rerun: CliResult, source: string, copy: string): void {
    expect(rerun.code, rerun.stderr).toBe(0);
    const out = JSON.parse(rerun.stdout) as TreeJson;
    const big = out.files.find((f) => f.path.endsWith(`/${BIG}`));
    expect(big?.resumedFrom).toBeGreaterThanOrEqual(CUT_AFTER_BYTES);
    expect(out.unchanged.length).toBeGreaterThan(SMALL_FILES / 2);
    expect(out.files.length + out.unchanged.length).toBe(SMALL_FILES + 1);
    expect(treeDigest(copy)).toEqual(treeDigest(source));
  }

  it("uploads the tree, killed and resumed, byte-identical", async () => {
    const remoteParent = join(work, "remote");
    mkdirSync(remoteParent);
    const args = ["cp", "-r", "--json", tree, `${rig.agentId}:${remoteParent}/`];
    await killMidTransfer(args, join(remoteParent, "tree"));
    expectResumed(await runCli(args, { env, timeoutMs: 180_000 }), tree, join(remoteParent, "tree"));
  }, 300_000);

  it("downloads the tree, killed and resumed, byte-identical", async () => {
    const localParent = join(work, "local");
    mkdirSync(localParent);
    const args = ["cp", "-r", "--json", `${rig.agentId}:${tree}`, `${localParent}/`];
    await killMidTransfer(args, join(localParent, "tree"));
    expectResumed(await runCli(args, { env, timeoutMs: 180_000 }), tree, join(localParent, "tree"));
  }, 300_000);
});
