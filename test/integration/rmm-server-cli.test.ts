import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const MAIN = resolve("dist/server/main.js");

/** The built executable, as `npm start` and the bin entry run it. */
function rmmServer(args: string[]) {
  return run(process.execPath, [MAIN, ...args], { env: { ...process.env, RMM_LOG_LEVEL: "info" } });
}

describe("the rmm-server executable", () => {
  let dataDir: string;
  let server: ChildProcess | undefined;
  let url = "";

  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first (npm test does)`);
    dataDir = mkdtempSync(join(tmpdir(), "rmm-cli-"));
    server = spawn(process.execPath, [MAIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir], {
      env: { ...process.env, RMM_LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    url = await new Promise<string>((resolveUrl, reject) => {
      const lines = createInterface({ input: server!.stderr! });
      lines.on("line", (line) => {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === "rmm-server listening" && entry.url) resolveUrl(entry.url);
      });
      server!.once("exit", (code) => reject(new Error(`rmm-server exited with ${code} before listening`)));
    });
  });
  afterAll(() => {
    server?.kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("creates its signing secret on first start, readable only by its owner", () => {
    expect(statSync(join(dataDir, "jwt-secret.key")).mode & 0o777).toBe(0o600);
    expect(existsSync(join(dataDir, "rmm.sqlite"))).toBe(true);
  });

  it("mints a token that the running server accepts over Connect on HTTP/1.1", async () => {
    const { stdout } = await rmmServer([
      "token",
      "--sub",
      "alice",
      "--role",
      "admin",
      "--ttl",
      "5m",
      "--data-dir",
      dataDir,
    ]);
    const token = stdout.trim();
    expect(token.split(".")).toHaveLength(3);
    // Node's fetch speaks HTTP/1.1: the same port must serve it.
    const res = await fetch(`${url}/rmm.v1.TunnelService/ListAgents`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: "{}",
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({});
  });

  it("answers an unauthenticated HTTP/1.1 call with a Connect error a person can read", async () => {
    const res = await fetch(`${url}/rmm.v1.TunnelService/ListAgents`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({
      code: "unauthenticated",
      message: expect.stringMatching(/missing technician token/),
    });
  });

  it("prints enrollment tokens", async () => {
    const { stdout } = await rmmServer(["enroll-token", "--ttl", "1h", "--data-dir", dataDir]);
    expect(stdout.trim().split(".")).toHaveLength(3);
  });

  it("rejects a bad flag value with one clear line and a non-zero exit", async () => {
    const failure = await rmmServer(["token", "--sub", "alice", "--ttl", "soon", "--data-dir", dataDir]).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(failure).toMatchObject({ code: 1 });
    expect((failure as { stderr: string }).stderr.trim()).toBe(
      'rmm-server: --ttl "soon" is not a duration: use a number and a unit (ms, s, m, h, d), e.g. 1h',
    );
  });

  it("prints a web console sign-in link with --web, and refuses a base that is not an http(s) URL", async () => {
    const { stdout } = await rmmServer(["token", "--sub", "alice", "--web", url, "--data-dir", dataDir]);
    const link = new URL(stdout.trim());
    expect(link.origin).toBe(new URL(url).origin);
    expect(link.pathname).toBe("/");
    expect(link.searchParams.get("token")).toMatch(/^ey[\w-]+\.[\w-]+\.[\w-]+$/);
    const failure = await rmmServer(["token", "--sub", "alice", "--web", "ftp://x", "--data-dir", dataDir]).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(failure).toMatchObject({ code: 1 });
    expect((failure as { stderr: string }).stderr.trim()).toBe(
      "rmm-server: --web: the console is served over http or https, not ftp:",
    );
  });

  it("stops cleanly on SIGTERM", async () => {
    const exited = new Promise<number | null>((r) => server!.once("exit", (code) => r(code)));
    server!.kill("SIGTERM");
    expect(await exited).toBe(0);
    server = undefined;
  });
});
