import { execFile } from "node:child_process";
import { chmodSync, chownSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Role } from "../server/auth/claims.js";
import { loadOrCreateSigningSecret } from "../server/auth/signing-secret.js";
import { TokenIssuer } from "../server/auth/token-issuer.js";
import { AGENT_MAIN, ManagedProcess, START_TIMEOUT_MS, startServerProcess } from "./managed-process.js";
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
  /** The agent process running now (a new one after restartAgent). */
  readonly agent: ManagedProcess;
  mintToken(subject: string, role?: Role, ttlSeconds?: number): Promise<string>;
  /** Enrolls another agent (not started); returns its id. */
  enrollAgent(name: string): Promise<string>;
  /** Runs an agent enrolled earlier with enrollAgent; stopped with the rig. */
  runEnrolled(name: string, extra?: string[]): Promise<ManagedProcess>;
  /** Enrolls and runs another agent with extra `run` flags; stopped with the rig. */
  startAgent(name: string, extra?: string[]): Promise<{ agentId: string; agent: ManagedProcess }>;
  /** Stops the agent (SIGKILL: a crash) and starts it again with the same flags; resolves once it is back in heartbeat mode. */
  restartAgent(signal?: NodeJS.Signals): Promise<ManagedProcess>;
  stop(): Promise<void>;
}

export interface AgentRigOptions {
  serverExtra?: string[];
  agentExtra?: string[];
  /** Runs the agent through this command, which must exec node in place (e.g. ["prlimit", "--fsize=1048576"]). */
  agentWrapper?: string[];
  /**
   * Runs the agent as this uid/gid (via setpriv; needs root). Its state is
   * chowned to it and the rig directory made traversable. For tests of
   * permissions that root would bypass.
   */
  agentUser?: { uid: number; gid: number };
  /** Server node flags (e.g. --expose-gc). */
  serverNodeArgs?: string[];
  /** Node flags of the agent started with the rig (the benchmark passes the service's AGENT_NODE_OPTIONS). */
  agentNodeArgs?: string[];
  /** Server log level; defaults to debug. */
  logLevel?: string;
}

/** Runs `rmm-agent enroll`, as an operator would, writing the identity to `statePath`; returns the agent id. */
export async function enrollWithAgentCli(
  serverUrl: string,
  enrollmentToken: string,
  statePath: string,
): Promise<string> {
  const { stdout } = await run(process.execPath, [
    AGENT_MAIN,
    "enroll",
    "--server",
    serverUrl,
    "--token",
    enrollmentToken,
    "--state",
    statePath,
  ]);
  return /enrolled as (\S+);/.exec(stdout)![1]!;
}

export async function startAgentRig(dialect: Dialect, opts: AgentRigOptions = {}): Promise<AgentRig> {
  const db: TestDatabase = await createTestDatabase(dialect);
  const dir = mkdtempSync(join(tmpdir(), "rmm-rig-"));
  let server: Awaited<ReturnType<typeof startServerProcess>> | undefined;
  try {
    server = await startServerProcess(serverOptions(dir, db, opts));
    return await connectRig(dir, db, server, opts);
  } catch (err) {
    // A rig that failed half-way (an enrollment refused, an agent that never connected) leaves no server
    // running behind the test worker, no database and no directory.
    await server?.proc.stop();
    // The error that stopped the rig says more than a failed drop would (the database may be what failed).
    await db.drop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

function serverOptions(dir: string, db: TestDatabase, opts: AgentRigOptions) {
  return {
    dataDir: join(dir, "server"),
    db: db.url,
    ...(opts.serverExtra && { extra: opts.serverExtra }),
    ...(opts.serverNodeArgs && { nodeArgs: opts.serverNodeArgs }),
    ...(opts.logLevel && { logLevel: opts.logLevel }),
  };
}

async function connectRig(
  dir: string,
  db: TestDatabase,
  server: Awaited<ReturnType<typeof startServerProcess>>,
  opts: AgentRigOptions,
): Promise<AgentRig> {
  const serverDir = join(dir, "server");
  const issuer = new TokenIssuer(loadOrCreateSigningSecret(serverDir).secret, "rmm-server", "rmm-api");
  const enrollAgent = async (name: string) =>
    enrollWithAgentCli(server.url, await issuer.mintEnrollment(600), join(dir, name, "state.json"));
  const agentId = await enrollAgent("agent");
  const wrapper = [...(opts.agentWrapper ?? [])];
  if (opts.agentUser) {
    const { uid, gid } = opts.agentUser;
    chmodSync(dir, 0o755);
    chownSync(join(dir, "agent"), uid, gid);
    chownSync(join(dir, "agent", "state.json"), uid, gid);
    wrapper.unshift("setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--clear-groups");
  }
  // Every extra agent from the moment it is spawned, so stop() ends one still starting (a hook that timed out).
  const extraAgents: ManagedProcess[] = [];
  let stopped = false;
  const runAgent = async (name: string, extra: string[], track = true, nodeArgs?: string[]) => {
    if (stopped) throw new Error(`the rig was stopped before agent ${name} could start`);
    const proc = new ManagedProcess(AGENT_MAIN, ["run", "--state", join(dir, name, "state.json"), ...extra], {
      ...(nodeArgs && { nodeArgs }),
      ...(wrapper.length > 0 && { wrapper }),
      ...(opts.logLevel && { logLevel: opts.logLevel }),
    });
    if (track) extraAgents.push(proc);
    try {
      await proc.waitForLog(
        (e) => e.msg === "connecting -> heartbeat",
        "the agent to reach heartbeat mode",
        START_TIMEOUT_MS,
      );
    } catch (err) {
      await proc.stop();
      throw err;
    }
    return proc;
  };
  let agent = await runAgent("agent", opts.agentExtra ?? [], false, opts.agentNodeArgs);
  return {
    dir,
    url: server.url,
    dbUrl: db.url,
    serverDir,
    agentId,
    server,
    get agent() {
      return agent;
    },
    mintToken: (subject, role = "tech", ttlSeconds = 3_600) => issuer.mintTechnician(subject, role, ttlSeconds),
    enrollAgent,
    runEnrolled: (name, extra = []) => runAgent(name, extra),
    async startAgent(name, extra = []) {
      const id = await enrollAgent(name);
      return { agentId: id, agent: await runAgent(name, extra) };
    },
    async restartAgent(signal: NodeJS.Signals = "SIGKILL") {
      await agent.stop(signal);
      agent = await runAgent("agent", opts.agentExtra ?? [], false, opts.agentNodeArgs);
      return agent;
    },
    async stop() {
      stopped = true;
      for (const proc of extraAgents) await proc.stop();
      await agent.stop();
      await server.proc.stop();
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
