import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Role } from "../../server/auth/claims.js";
import { loadOrCreateSigningSecret } from "../../server/auth/signing-secret.js";
import { TokenIssuer } from "../../server/auth/token-issuer.js";
import { AGENT_MAIN, ManagedProcess, startServerProcess } from "./managed-process.js";
import { createTestDatabase, type Dialect, type TestDatabase } from "./test-databases.js";

const run = promisify(execFile);

/** A real rmm-server process and one enrolled, connected real rmm-agent process, in a temporary directory. */
export interface AgentRig {
  dir: string;
  url: string;
  /** The store the server uses (open it to read audit rows). */
  dbUrl: string;
  /** The server's --data-dir (signing secret, recordings). */
  serverDir: string;
  agentId: string;
  server: Awaited<ReturnType<typeof startServerProcess>>;
  agent: ManagedProcess;
  mintToken(subject: string, role?: Role, ttlSeconds?: number): Promise<string>;
  /** Enrolls another agent (not started); returns its id. */
  enrollAgent(name: string): Promise<string>;
  /** Enrolls and runs another agent with extra `run` flags; stopped with the rig. */
  startAgent(name: string, extra?: string[]): Promise<{ agentId: string; agent: ManagedProcess }>;
  stop(): Promise<void>;
}

export async function startAgentRig(dialect: Dialect, opts: { serverExtra?: string[]; agentExtra?: string[] } = {}): Promise<AgentRig> {
  const db: TestDatabase = await createTestDatabase(dialect);
  const dir = mkdtempSync(join(tmpdir(), "rmm-rig-"));
  const serverDir = join(dir, "server");
  const server = await startServerProcess({ dataDir: serverDir, db: db.url, ...(opts.serverExtra && { extra: opts.serverExtra }) });
  const issuer = new TokenIssuer(loadOrCreateSigningSecret(serverDir).secret, "rmm-server", "rmm-api");
  const enrollAgent = async (name: string) => {
    const { stdout } = await run(process.execPath, [AGENT_MAIN, "enroll", "--server", server.url, "--token", await issuer.mintEnrollment(600), "--state", join(dir, name, "state.json")]);
    return /enrolled as (\S+);/.exec(stdout)![1]!;
  };
  const agentId = await enrollAgent("agent");
  const extraAgents: ManagedProcess[] = [];
  const runAgent = async (name: string, extra: string[]) => {
    const proc = new ManagedProcess(AGENT_MAIN, ["run", "--state", join(dir, name, "state.json"), ...extra]);
    await proc.waitForLog((e) => e.msg === "connecting -> heartbeat", "the agent to reach heartbeat mode");
    return proc;
  };
  const agent = await runAgent("agent", opts.agentExtra ?? []);
  return {
    dir,
    url: server.url,
    dbUrl: db.url,
    serverDir,
    agentId,
    server,
    agent,
    mintToken: (subject, role = "tech", ttlSeconds = 3_600) => issuer.mintTechnician(subject, role, ttlSeconds),
    enrollAgent,
    async startAgent(name, extra = []) {
      const id = await enrollAgent(name);
      const proc = await runAgent(name, extra);
      extraAgents.push(proc);
      return { agentId: id, agent: proc };
    },
    async stop() {
      for (const proc of extraAgents) await proc.stop();
      await agent.stop();
      await server.proc.stop();
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
