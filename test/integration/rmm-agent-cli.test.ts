import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AGENT_MAIN } from "../../testkit/managed-process.js";
import { createTestDatabase, type TestDatabase } from "../../testkit/test-databases.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const run = promisify(execFile);

/** Runs rmm-agent expecting failure; returns its exit code and stderr. */
async function fails(args: string[]): Promise<{ code: number; stderr: string }> {
  const result = await run(process.execPath, [AGENT_MAIN, ...args]).then(
    () => ({ code: 0, stderr: "" }),
    (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr.trim() }),
  );
  expect(result.code, "rmm-agent should have failed").not.toBe(0);
  return result;
}

describe("rmm-agent given bad input", () => {
  let dir: string;
  let db: TestDatabase;
  let ts: TestServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "rmm-agent-cli-"));
    db = await createTestDatabase("sqlite");
    ts = await startTestServer(db.url);
  });
  afterAll(async () => {
    await ts.dispose();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("says to enroll first when there is no state file", async () => {
    const { stderr } = await fails(["run", "--state", join(dir, "missing.json")]);
    expect(stderr).toBe(
      `rmm-agent: no agent state at ${join(dir, "missing.json")}: run \`rmm-agent enroll --server URL --token TOKEN\` first`,
    );
  });

  it("refuses a --forward-allow that is not HOST:PORT before reading any state", async () => {
    const { stderr } = await fails(["run", "--state", join(dir, "missing.json"), "--forward-allow", "localhost"]);
    expect(stderr).toContain(
      "--forward-allow localhost is not HOST:PORT (globs allowed, for example localhost:3389 or 10.0.0.*:443)",
    );
  });

  it("refuses a state file that is not one", async () => {
    writeFileSync(join(dir, "bad.json"), JSON.stringify({ server: "http://x" }));
    const { stderr } = await fails(["run", "--state", join(dir, "bad.json")]);
    expect(stderr).toMatch(/is not an agent state file .*enroll again/);
  });

  it("refuses a server URL that is neither https nor http", async () => {
    const { stderr } = await fails([
      "enroll",
      "--server",
      "ftp://127.0.0.1:1",
      "--token",
      "t",
      "--state",
      join(dir, "s.json"),
    ]);
    expect(stderr).toBe(
      'rmm-agent: server URL "ftp://127.0.0.1:1" must start with https:// (or http:// for cleartext)',
    );
  });

  it("refuses a label that is not key=value on enroll and install, before enrolling", async () => {
    for (const command of ["enroll", "install"]) {
      const state = join(dir, `label-${command}.json`);
      const { stderr } = await fails([
        command,
        "--server",
        ts.url,
        "--token",
        "t",
        ...(command === "enroll" ? ["--state", state] : ["--root", join(dir, "label-root")]),
        "--label",
        "site",
      ]);
      expect(stderr).toContain('label "site" is not key=value');
      expect(existsSync(state)).toBe(false);
    }
  });

  it("keeps enroll's --label flags in the state file, the last value of a repeated key winning", async () => {
    const state = join(dir, "labelled.json");
    const token = await ts.server.issuer.mintEnrollment(600);
    await run(process.execPath, [
      AGENT_MAIN,
      "enroll",
      "--server",
      ts.url,
      "--token",
      token,
      "--state",
      state,
      "--label",
      "site=berlin",
      "--label",
      "tier=web",
      "--label",
      "tier=db",
    ]);
    expect((JSON.parse(readFileSync(state, "utf8")) as { labels?: unknown }).labels).toEqual({
      site: "berlin",
      tier: "db",
    });
  });

  it("reports a bad enrollment token in one line, and writes no state", async () => {
    const { stderr } = await fails([
      "enroll",
      "--server",
      ts.url,
      "--token",
      "not-a-token",
      "--state",
      join(dir, "never.json"),
    ]);
    expect(stderr).toBe("rmm-agent: [unauthenticated] enrollment token is malformed (ERR_JWS_INVALID)");
    await expect(fails(["run", "--state", join(dir, "never.json")])).resolves.toMatchObject({
      stderr: expect.stringMatching(/no agent state/),
    });
  });
});
