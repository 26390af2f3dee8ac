import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExitCode } from "../../cli/cli-error.js";
import { createTechnicianClient } from "../../client/technician-client.js";
import { startAgentRig, type AgentRig } from "../../testkit/agent-rig.js";
import { CLI_MAIN, runCli } from "../support/run-cli.js";
import { until } from "../support/until.js";

describe("rmm forward against a real server and agent", () => {
  let rig: AgentRig;
  let home: string;
  let env: Record<string, string>;
  let web: http.Server;
  let webPort: number;

  beforeAll(async () => {
    rig = await startAgentRig("sqlite", { serverExtra: ["--ephemeral-grace", "5s"] });
    home = mkdtempSync(join(tmpdir(), "rmm-forward-cli-"));
    env = { XDG_CONFIG_HOME: home, RMM_SERVER: rig.url, RMM_TOKEN: await rig.mintToken("alice") };
    web = http.createServer((req, res) => res.end(`hello from ${req.url}`));
    web.listen(0, "127.0.0.1");
    await once(web, "listening");
    webPort = (web.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    web.closeAllConnections();
    await new Promise((r) => web.close(r));
    await rig.stop();
    rmSync(home, { recursive: true, force: true });
  });

  /** Starts `rmm forward` and collects its output as it comes. */
  function startForward(args: string[]) {
    const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [CLI_MAIN, "forward", ...args], {
      env: { ...process.env, ...env },
    });
    const out = { stdout: "", stderr: "" };
    child.stdout.on("data", (b: Buffer) => (out.stdout += b.toString()));
    child.stderr.on("data", (b: Buffer) => (out.stderr += b.toString()));
    const exited = once(child, "exit").then(([code]) => code as number | null);
    return { child, out, exited };
  }

  const get = (port: number, path: string) =>
    new Promise<string>((resolve, reject) => {
      http
        .get({ host: "127.0.0.1", port, path, agent: false }, (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => (body += c));
          res.on("end", () => resolve(body));
        })
        .on("error", reject);
    });

  it("forwards several specs, prints a line per connection, and on Ctrl-C closes everything and exits 130 with a summary", async () => {
    const fwd = startForward([rig.agentId, `0:localhost:${webPort}`, `127.0.0.1:0:localhost:${webPort}`]);
    await until(
      () => fwd.out.stdout.split("\n").filter((l) => l.startsWith("forwarding")).length === 2,
      "two listeners",
    );
    const ports = [...fwd.out.stdout.matchAll(/^forwarding 127\.0\.0\.1:(\d+) -> localhost:(\d+) on \S+$/gm)].map((m) =>
      Number(m[1]),
    );
    expect(ports).toHaveLength(2);
    expect(await get(ports[0]!, "/one")).toBe("hello from /one");
    expect(await get(ports[1]!, "/two")).toBe("hello from /two");
    await until(
      () => /(-> localhost:\d+: .* out, .* in, [\d.]+ s\n.*){2}/s.test(fwd.out.stdout),
      "two connection lines",
    );
    // The session stays while the forward runs.
    const tech = createTechnicianClient(rig.url, env.RMM_TOKEN!);
    const agent = (await tech.listAgents({})).agents.find((a) => a.id === rig.agentId)!;
    expect(agent.activeSessionId).not.toBe("");
    fwd.child.kill("SIGINT");
    expect(await fwd.exited).toBe(ExitCode.Interrupted);
    expect(fwd.out.stderr).toMatch(
      /^rmm: forward stopped: 2 connections, [\d.]+ [KMG]?i?B out, [\d.]+ [KMG]?i?B in\n$/,
    );
    // The forward's session is ephemeral: the server releases it once its grace passes with no channel.
    await until(
      async () => (await tech.listAgents({})).agents.find((a) => a.id === rig.agentId)!.activeSessionId === "",
      "the forward's session to be released",
      15_000,
    );
  });

  it("says a local port is in use, and exits 8", async () => {
    const busy = net.createServer().listen(0, "127.0.0.1");
    await once(busy, "listening");
    const port = (busy.address() as net.AddressInfo).port;
    try {
      const r = await runCli(["forward", rig.agentId, `${port}:localhost:${webPort}`], { env });
      expect(r.code).toBe(ExitCode.Conflict);
      expect(r.stderr).toBe(`rmm: 127.0.0.1:${port} is already in use: pick another local port (0 picks a free one)\n`);
    } finally {
      await new Promise((r) => busy.close(r));
    }
  });

  it("rejects a spec that is not [LOCAL_ADDR:]LOCAL_PORT:HOST:PORT as a usage error", async () => {
    const r = await runCli(["forward", rig.agentId, "8080:localhost"], { env });
    expect(r.code).toBe(ExitCode.Usage);
    expect(r.stderr).toBe(
      'rmm: "8080:localhost" is not [LOCAL_ADDR:]LOCAL_PORT:HOST:PORT (for example 8080:localhost:80 or 0:10.0.0.5:3389)\n',
    );
  });
});
