import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as http2 from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTechnicianClient } from "../../client/technician-client.js";
import { SessionState } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { openDatabase, parseDatabaseUrl, type Db } from "../../server/store/index.js";
import { startAgentRig, type AgentRig } from "../../testkit/agent-rig.js";
import {
  callError,
  callOk,
  connectMcp,
  disconnectMcp,
  TEST_VIA,
  type McpTransportKind,
} from "../support/mcp-clients.js";
import { DIALECTS } from "../../testkit/test-databases.js";
import { until } from "../support/until.js";

const ALL_TOOLS = [
  "cancel_command",
  "get_command_output",
  "get_job",
  "list_agents",
  "list_directory",
  "read_file",
  "run_command",
  "run_on_fleet",
  "stat",
  "write_file",
];
const READ_ONLY_TOOLS = ["get_command_output", "get_job", "list_agents", "list_directory", "read_file", "stat"];

interface JobResult {
  job_id: string;
  state: string;
  totals: { total: number; succeeded: number; pending: number; running: number };
  steps: Array<{ agent_id: string; state: string; exit_code: number | null; first_line: string | null }>;
  steps_not_listed: number;
}

interface CommandResult {
  handle: string;
  state: string;
  pid: number | null;
  exit: { exit_code: number | null; cancelled: boolean } | null;
  error: string | null;
  stdout: { text: string; bytes: number; cut_bytes: number; next_offset: number };
  stderr: { text: string; bytes: number };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.each(DIALECTS)("MCP against a real server and agent on %s", (dialect) => {
  let rig: AgentRig;
  let work: string;
  let db: Db;
  let adminToken: string;
  let techToken: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "rmm-mcp-"));
    const policyFile = join(work, "policy.json");
    const anything = [
      { name: "anything", effect: "allow", program: "*" },
      { name: "anything-by-path", effect: "allow", program: "/*" },
    ];
    writeFileSync(
      policyFile,
      JSON.stringify({
        roles: {
          admin: { mcp: true, files: "read-write", allowEnvironment: true, rules: anything },
          tech: { mcp: "read-only", files: "read", rules: anything },
        },
      }),
    );
    rig = await startAgentRig(dialect, {
      // A short grace, so the test sees the server release the assistant's sessions soon.
      serverExtra: ["--policy", policyFile, "--ephemeral-grace", "4s"],
      agentExtra: ["--label", "mcp-test=yes", "--label", "tier=web"],
      logLevel: "info",
    });
    db = openDatabase(parseDatabaseUrl(rig.dbUrl));
    adminToken = await rig.mintToken("root", "admin");
    techToken = await rig.mintToken("alice", "tech");
  }, 60_000);
  afterAll(async () => {
    await db?.destroy();
    await rig?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  describe.each<McpTransportKind>(["stdio", "http"])("over %s", (kind) => {
    let admin: Client;
    let tech: Client;

    beforeAll(async () => {
      admin = await connectMcp(kind, { url: rig.url, token: adminToken, configHome: work });
      tech = await connectMcp(kind, { url: rig.url, token: techToken, configHome: work });
    }, 30_000);
    afterAll(async () => {
      await disconnectMcp(admin);
      await disconnectMcp(tech);
    });

    it("lists every tool with input and output schemas and annotations", async () => {
      const { tools } = await admin.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(ALL_TOOLS);
      const byName = new Map(tools.map((t) => [t.name, t]));
      for (const tool of tools) {
        expect(tool.inputSchema.type).toBe("object");
        expect(tool.outputSchema?.type, tool.name).toBe("object");
        expect(tool.annotations?.readOnlyHint, tool.name).toBe(READ_ONLY_TOOLS.includes(tool.name));
      }
      expect(byName.get("run_command")!.annotations?.destructiveHint).toBe(true);
      expect(byName.get("write_file")!.annotations?.destructiveHint).toBe(true);
      expect(byName.get("run_on_fleet")!.annotations?.destructiveHint).toBe(true);
      expect(byName.get("get_job")!.annotations?.destructiveHint).toBe(false);
      expect(Object.keys(byName.get("run_on_fleet")!.inputSchema.properties ?? {})).toEqual(
        expect.arrayContaining(["selector", "agents", "argv", "shell_command", "timeout_seconds", "concurrency"]),
      );
      expect(Object.keys(byName.get("run_on_fleet")!.outputSchema?.properties ?? {})).toEqual(
        expect.arrayContaining(["job_id", "totals", "steps"]),
      );
      expect(Object.keys(byName.get("run_command")!.inputSchema.properties ?? {})).toEqual(
        expect.arrayContaining(["agent", "argv", "shell_command", "cwd", "env", "timeout_seconds", "wait_seconds"]),
      );
    });

    it("lists agents, filtered by hostname and online state", async () => {
      const all = await callOk<{ agents: Array<{ id: string; hostname: string; online: boolean }> }>(
        admin,
        "list_agents",
        { online_only: true },
      );
      const me = all.agents.find((a) => a.id === rig.agentId)!;
      expect(me.online).toBe(true);
      const none = await callOk<{ count: number }>(admin, "list_agents", { hostname: "no-such-host-anywhere" });
      expect(none.count).toBe(0);
    });

    it("lists agents by label selector, with their labels", async () => {
      type Listed = { agents: Array<{ id: string; labels: Record<string, string> }>; count: number };
      const web = await callOk<Listed>(admin, "list_agents", { selector: "mcp-test=yes,tier in (web,api)" });
      expect(web.agents.map((a) => a.id)).toEqual([rig.agentId]);
      expect(web.agents[0]!.labels).toMatchObject({ "mcp-test": "yes", tier: "web" });
      expect((await callOk<Listed>(tech, "list_agents", { selector: "mcp-test=yes,tier!=web" })).count).toBe(0);
      expect(await callError(admin, "list_agents", { selector: "tier in (web" })).toMatch(/^invalid argument: /);
    });

    it("runs a command on the fleet as a job, get_job reads it, and a read-only role may read but not start one", async () => {
      const marker = `fleet-${kind}`;
      const started = await callOk<JobResult>(admin, "run_on_fleet", {
        selector: "mcp-test=yes",
        argv: ["echo", marker],
        timeout_seconds: 30,
        wait_seconds: 50,
      });
      expect(started).toMatchObject({ state: "finished", totals: { total: 1, succeeded: 1 }, steps_not_listed: 0 });
      expect(started.steps).toEqual([
        expect.objectContaining({ agent_id: rig.agentId, state: "succeeded", exit_code: 0, first_line: marker }),
      ]);
      const read = await callOk<JobResult>(tech, "get_job", { job_id: started.job_id });
      expect(read).toMatchObject({ job_id: started.job_id, state: "finished", totals: { succeeded: 1 } });
      expect(read.steps).toEqual(started.steps);
      const byId = await callOk<JobResult>(admin, "run_on_fleet", {
        agents: [rig.agentId],
        shell_command: { shell: "/bin/sh", command_line: "exit 4" },
        wait_seconds: 50,
      });
      expect(byId.steps).toEqual([expect.objectContaining({ state: "failed", exit_code: 4 })]);
      expect(await callError(admin, "get_job", { job_id: "no-such-job" })).toMatch(/^not found: /);
      expect(await callError(admin, "run_on_fleet", { argv: ["true"] })).toMatch(/name the agents/);
      if (kind === "http") {
        // Not listed to a read-only role, so not callable either.
        expect(await callError(tech, "run_on_fleet", { selector: "mcp-test=yes", argv: ["true"] })).toMatch(
          /run_on_fleet not found/,
        );
      } else {
        const message = await callError(tech, "run_on_fleet", { selector: "mcp-test=yes", argv: ["true"] });
        expect(message).toMatch(/role tech has read-only MCP access .*CreateJob is not a read-only call/);
        const rows = await db
          .selectFrom("audit_events")
          .selectAll()
          .where("action", "=", "mcp.refused")
          .where("actor", "=", "tech:alice")
          .execute();
        expect(rows.some((r) => r.via === TEST_VIA && /^CreateJob: /.test(r.reason ?? ""))).toBe(true);
      }
      const jobs = await db.selectFrom("jobs").select(["id", "creator"]).execute();
      expect(jobs.filter((j) => j.creator === "alice")).toEqual([]);
    });

    it("runs a short command and returns its output and exit code at once", async () => {
      const r = await callOk<CommandResult>(admin, "run_command", {
        agent: rig.agentId,
        argv: ["sh", "-c", "echo out; echo err >&2; exit 3"],
      });
      expect(r.state).toBe("exited");
      expect(r.exit?.exit_code).toBe(3);
      expect(r.stdout.text).toBe("out\n");
      expect(r.stderr.text).toBe("err\n");
    });

    it("returns a handle for a long command, then its output and exit code through get_command_output", async () => {
      const flag = join(work, `go-${kind}`);
      const r = await callOk<CommandResult>(admin, "run_command", {
        agent: rig.agentId,
        shell_command: {
          shell: "/bin/sh",
          command_line: `echo first; while [ ! -e ${flag} ]; do sleep 0.05; done; echo done`,
        },
        wait_seconds: 0,
      });
      expect(r.state).toBe("running");
      expect(r.handle).toMatch(/^cmd-/);
      let progress = 0;
      const waiting = admin.callTool(
        { name: "get_command_output", arguments: { handle: r.handle, wait_seconds: 50 } },
        undefined,
        {
          onprogress: () => {
            progress++;
            writeFileSync(flag, "");
          },
        },
      ) as Promise<CallToolResult>;
      const done = (await waiting).structuredContent as unknown as CommandResult;
      expect(progress).toBeGreaterThan(0);
      expect(done.state).toBe("exited");
      expect(done.exit?.exit_code).toBe(0);
      expect(done.stdout.text).toBe("first\ndone\n");
      const later = await callOk<CommandResult>(admin, "get_command_output", {
        handle: r.handle,
        stdout_offset: done.stdout.next_offset,
      });
      expect(later.stdout).toMatchObject({ text: "", bytes: 0 });
    });

    it("ends the remote process when the MCP client cancels the call", async () => {
      const pidFile = join(work, `pid-${kind}`);
      const abort = new AbortController();
      const call = admin
        .callTool(
          {
            name: "run_command",
            arguments: { agent: rig.agentId, argv: ["sh", "-c", `echo $$ > ${pidFile}; exec sleep 300`] },
          },
          undefined,
          { signal: abort.signal },
        )
        .catch((err: unknown) => err);
      await until(() => existsSync(pidFile) && readFileSync(pidFile, "utf8").endsWith("\n"), "the command to start");
      const pid = Number(readFileSync(pidFile, "utf8"));
      expect(alive(pid)).toBe(true);
      abort.abort();
      expect(await call).toBeInstanceOf(Error);
      await until(() => !alive(pid), `remote process ${pid} to end`);
    });

    it("ends the remote process on cancel_command", async () => {
      const pidFile = join(work, `pid2-${kind}`);
      const r = await callOk<CommandResult>(admin, "run_command", {
        agent: rig.agentId,
        argv: ["sh", "-c", `echo $$ > ${pidFile}; exec sleep 300`],
        wait_seconds: 0,
      });
      await until(() => existsSync(pidFile) && readFileSync(pidFile, "utf8").endsWith("\n"), "the command to start");
      const pid = Number(readFileSync(pidFile, "utf8"));
      const cancelled = await callOk<CommandResult>(admin, "cancel_command", { handle: r.handle });
      expect(cancelled.state).toBe("cancelled");
      await until(() => !alive(pid), `remote process ${pid} to end`);
    });

    it("caps inline output, keeping head and tail and saying how much was cut", async () => {
      const r = await callOk<CommandResult>(admin, "run_command", {
        agent: rig.agentId,
        argv: ["sh", "-c", "printf 'HEAD'; head -c 100000 /dev/zero | tr '\\0' x; printf 'TAIL'"],
      });
      expect(r.stdout.bytes).toBe(100_008);
      expect(r.stdout.cut_bytes).toBe(100_008 - 16 * 1024);
      expect(r.stdout.text.startsWith("HEAD")).toBe(true);
      expect(r.stdout.text.endsWith("TAIL")).toBe(true);
      expect(r.stdout.text).toContain(`${100_008 - 16 * 1024} bytes cut`);
    });

    it("writes, reads, lists and stats a file, with the SHA-256 checked", async () => {
      const path = join(work, `note-${kind}.txt`);
      const content = "hello from MCP\n".repeat(100);
      const sha256 = createHash("sha256").update(content).digest("hex");
      const written = await callOk<{ sha256: string; size: number }>(admin, "write_file", {
        agent: rig.agentId,
        path,
        content,
        sha256,
      });
      expect(written).toMatchObject({ sha256, size: content.length });
      expect(readFileSync(path, "utf8")).toBe(content);
      const read = await callOk<{ text: string; sha256: string | null; eof: boolean }>(admin, "read_file", {
        agent: rig.agentId,
        path,
      });
      expect(read).toMatchObject({ text: content, sha256, eof: true });
      const range = await callOk<{ text: string; offset: number; eof: boolean; sha256: string | null }>(
        admin,
        "read_file",
        { agent: rig.agentId, path, offset: 6, length: 8 },
      );
      expect(range).toMatchObject({ text: "from MCP", offset: 6, eof: false, sha256: null });
      const stat = await callOk<{ kind: string; size: number }>(admin, "stat", { agent: rig.agentId, path });
      expect(stat).toMatchObject({ kind: "file", size: content.length });
      const listing = await callOk<{ entries: Array<{ name: string }> }>(admin, "list_directory", {
        agent: rig.agentId,
        path: work,
      });
      expect(listing.entries.map((e) => e.name)).toContain(`note-${kind}.txt`);
      expect(await callError(admin, "write_file", { agent: rig.agentId, path, content: "other" })).toMatch(
        /already exists/,
      );
      expect(readFileSync(path, "utf8")).toBe(content);
      expect(
        await callError(admin, "write_file", { agent: rig.agentId, path, content: "x", overwrite: true, sha256 }),
      ).toMatch(/nothing was written/);
      await callOk(admin, "write_file", { agent: rig.agentId, path, content: "replaced", overwrite: true });
      expect(readFileSync(path, "utf8")).toBe("replaced");
    });

    it("answers bad input with tool errors and carries on", async () => {
      expect(await callError(admin, "no_such_tool", {})).toMatch(/no_such_tool not found/);
      expect(await callError(admin, "run_command", { argv: ["true"] })).toMatch(/agent/);
      expect(await callError(admin, "run_command", { agent: rig.agentId })).toMatch(
        /exactly one of argv and shell_command/,
      );
      expect(await callError(admin, "run_command", { agent: "no-such-agent", argv: ["true"] })).toMatch(
        /no agent no-such-agent/,
      );
      const offline = await rig.enrollAgent(`offline-${kind}`);
      expect(await callError(admin, "run_command", { agent: offline, argv: ["true"] })).toMatch(
        new RegExp(`agent .*${offline}.* is offline \\(never seen\\): list_agents with online_only`),
      );
      expect(await callError(admin, "get_command_output", { handle: "cmd-nope" })).toMatch(/no command cmd-nope/);
      expect(await callError(admin, "read_file", { agent: rig.agentId, path: join(work, "missing") })).toMatch(
        /not found/,
      );
      const r = await callOk<CommandResult>(admin, "run_command", { agent: rig.agentId, argv: ["true"] });
      expect(r.exit?.exit_code).toBe(0);
    });

    it("marks every audit row it causes with via: mcp/<client>/<version>", async () => {
      const marker = `via-check-${kind}`;
      await callOk(admin, "run_command", { agent: rig.agentId, argv: ["echo", marker] });
      const commands = await db.selectFrom("command_audit").selectAll().where("argv", "like", `%${marker}%`).execute();
      expect(commands.map((c) => c.via)).toEqual([TEST_VIA]);
      const path = join(work, `audited-${kind}.txt`);
      await callOk(admin, "write_file", { agent: rig.agentId, path, content: "audited" });
      const uploads = await db.selectFrom("file_transfers").selectAll().where("path", "=", path).execute();
      expect(uploads.map((u) => [u.operation, u.via])).toEqual([["upload", TEST_VIA]]);
    });

    it("opens tunnel sessions ephemeral: reuses the technician's own without closing it, and leaves none behind", async () => {
      const live = () =>
        db
          .selectFrom("tunnel_sessions")
          .select(["id", "ephemeral", "close_reason"])
          .where("technician", "=", "root")
          .where("agent_id", "=", rig.agentId)
          .where("state", "in", ["opening", "active"])
          .execute();
      await until(async () => (await live()).length === 0, "earlier calls' sessions to be released");
      // The technician's own explicit session (rmm tunnel open): the assistant works in it and leaves it open.
      const own = createTechnicianClient(rig.url, adminToken);
      const { session } = await own.openTunnel({ agentId: rig.agentId });
      await callOk(admin, "run_command", { agent: rig.agentId, argv: ["true"] });
      await callOk(admin, "stat", { agent: rig.agentId, path: work });
      expect((await own.getTunnelStatus({ sessionId: session!.id })).session?.state).toBe(SessionState.ACTIVE);
      await own.closeTunnel({ sessionId: session!.id });
      // Without one, the assistant's session is ephemeral and the server releases it after its grace.
      await callOk(admin, "run_command", { agent: rig.agentId, argv: ["true"] });
      const opened = await live();
      expect(opened.map((s) => s.ephemeral)).toEqual([1]);
      await until(async () => (await live()).length === 0, "the server to release the assistant's session");
      const released = await db
        .selectFrom("tunnel_sessions")
        .select("close_reason")
        .where("id", "=", opened[0]!.id)
        .executeTakeFirstOrThrow();
      expect(released.close_reason).toBe("released");
      await disconnectMcp(admin);
      expect(await live()).toEqual([]);
    });

    // Runs after the admin's MCP session ended.
    it("holds a read-only role to the read-only tools, refusing the rest with an audited tool error", async () => {
      if (kind === "http") {
        // The server knows the role's setting and lists only what it allows.
        const { tools } = await tech.listTools();
        expect(tools.map((t) => t.name).sort()).toEqual(READ_ONLY_TOOLS);
      } else {
        const message = await callError(tech, "run_command", { agent: rig.agentId, argv: ["true"] });
        expect(message).toMatch(/role tech has read-only MCP access .*Exec/);
        const rows = await db
          .selectFrom("audit_events")
          .selectAll()
          .where("action", "=", "mcp.refused")
          .where("actor", "=", "tech:alice")
          .execute();
        expect(rows.some((r) => r.via === TEST_VIA && /Exec/.test(r.reason ?? ""))).toBe(true);
      }
      const path = join(work, `readable-${kind}.txt`);
      writeFileSync(path, "readable");
      expect(await callOk(tech, "read_file", { agent: rig.agentId, path })).toMatchObject({ text: "readable" });
    });
  });

  describe("the /mcp endpoint", () => {
    it("answers a missing or bad token with 401 and the protected-resource metadata", async () => {
      const missing = await fetch(`${rig.url}/mcp`, { method: "POST", body: "{}" });
      expect(missing.status).toBe(401);
      const challenge = missing.headers.get("www-authenticate")!;
      expect(challenge).toBe(`Bearer resource_metadata="${rig.url}/.well-known/oauth-protected-resource/mcp"`);
      const bad = await fetch(`${rig.url}/mcp`, {
        method: "POST",
        headers: { authorization: "Bearer not-a-token" },
        body: "{}",
      });
      expect(bad.status).toBe(401);
      expect(bad.headers.get("www-authenticate")).toMatch(
        /^Bearer error="invalid_token", error_description=".+", resource_metadata=/,
      );
      const expired = await fetch(`${rig.url}/mcp`, {
        method: "POST",
        headers: { authorization: `Bearer ${await rig.mintToken("root", "admin", -60)}` },
        body: "{}",
      });
      expect(expired.status).toBe(401);
      const metadata = await fetch(`${rig.url}/.well-known/oauth-protected-resource/mcp`);
      expect(await metadata.json()).toMatchObject({ resource: `${rig.url}/mcp`, bearer_methods_supported: ["header"] });
    });

    it("speaks Streamable HTTP over HTTP/2 cleartext on the same port", async () => {
      const session = http2.connect(rig.url);
      try {
        const req = session.request({
          ":method": "POST",
          ":path": "/mcp",
          authorization: `Bearer ${adminToken}`,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
        });
        req.end(
          JSON.stringify({
            jsonrpc: "2.0",
            id: 1,
            method: "initialize",
            params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "h2c", version: "1" } },
          }),
        );
        const [headers, body] = await new Promise<[http2.IncomingHttpHeaders, string]>((resolve, reject) => {
          let h: http2.IncomingHttpHeaders = {};
          let text = "";
          req.on("response", (r) => (h = r));
          req.on("data", (d: Buffer) => {
            text += d.toString();
            // The SSE stream of one answer: done once the result arrived.
            if (text.includes('"result"')) resolve([h, text]);
          });
          req.on("error", reject);
          req.on("end", () => resolve([h, text]));
        });
        req.close();
        expect(headers[":status"]).toBe(200);
        expect(headers["mcp-session-id"]).toMatch(/^[0-9a-f-]{36}$/);
        expect(body).toContain('"serverInfo":{"name":"rmm"');
      } finally {
        session.close();
      }
    });
  });
});
