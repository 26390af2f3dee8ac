import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir, platform } from "node:os";
import { dirname, join } from "node:path";

/** What enrollment gives an agent, kept between runs. */
export interface AgentState {
  /** Base URL of the server, e.g. https://rmm.example.com:7443. */
  server: string;
  agentId: string;
  /** Secret: the file is written with mode 0600. */
  credential: string;
  /** PEM file of the CA that signs the server's certificate; the system roots when absent. */
  caFile?: string;
  /** Labels the agent reports (key=value, Kubernetes syntax); `rmm-agent run --label` adds to and overrides them. */
  labels?: Record<string, string>;
}

/**
 * Where the state lives when --state is not given: the system location when
 * running as a service (root / SYSTEM), else the user's own state directory.
 */
export function defaultStatePath(): string {
  const os = platform();
  if (os === "win32") return join(process.env.ProgramData ?? "C:\\ProgramData", "rmm-agent", "state.json");
  if (os === "darwin")
    return process.getuid?.() === 0
      ? "/Library/Application Support/rmm-agent/state.json"
      : join(homedir(), "Library", "Application Support", "rmm-agent", "state.json");
  if (process.getuid?.() === 0) return "/var/lib/rmm-agent/state.json";
  return join(process.env.XDG_STATE_HOME ?? join(homedir(), ".local", "state"), "rmm-agent", "state.json");
}

export function readState(path: string): AgentState {
  let raw: string;
  try {
    raw = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT")
      throw new Error(`no agent state at ${path}: run \`rmm-agent enroll --server URL --token TOKEN\` first`);
    throw err;
  }
  const parsed = JSON.parse(raw) as Partial<AgentState>;
  if (
    typeof parsed.server !== "string" ||
    typeof parsed.agentId !== "string" ||
    typeof parsed.credential !== "string"
  ) {
    throw new Error(`${path} is not an agent state file (server, agentId and credential are required): enroll again`);
  }
  return parsed as AgentState;
}

/** Written to a temporary file and renamed, so a crash never leaves half a credential behind. */
export function writeState(path: string, state: AgentState): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + "\n", { mode: 0o600 });
  renameSync(tmp, path);
}
