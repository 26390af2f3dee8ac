import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { CliError, ExitCode } from "./cli-error.js";

/** What `rmm login` stores. */
export interface CliConfig {
  server: string;
  token: string;
  /** PEM CA file that signs the server's certificate, for private CAs. */
  caFile?: string;
}

/** $XDG_CONFIG_HOME/rmm/config.json, or ~/.config/rmm/config.json. */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env["XDG_CONFIG_HOME"] || join(homedir(), ".config");
  return join(base, "rmm", "config.json");
}

/** Writes the config atomically with mode 0600: it holds a bearer token. */
export function saveConfig(config: CliConfig, path = configPath()): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(config, null, 2) + "\n", { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

function readConfigFile(path: string): Partial<CliConfig> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new CliError(`cannot read ${path}: ${(err as Error).message}`, ExitCode.Config);
  }
  try {
    return JSON.parse(text) as Partial<CliConfig>;
  } catch {
    throw new CliError(`${path} is not valid JSON: run rmm login again`, ExitCode.Config);
  }
}

/** The stored config with RMM_SERVER / RMM_TOKEN / RMM_CA_FILE overriding it; fails with a hint when something is missing. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, path = configPath(env)): CliConfig {
  const stored = readConfigFile(path);
  const server = env["RMM_SERVER"] || stored.server;
  const token = env["RMM_TOKEN"] || stored.token;
  const caFile = env["RMM_CA_FILE"] || stored.caFile;
  if (!server)
    throw new CliError(
      "no server configured: run rmm login --server URL --token TOKEN (or set RMM_SERVER)",
      ExitCode.Config,
    );
  if (!token)
    throw new CliError("no token configured: run rmm login --token TOKEN (or set RMM_TOKEN)", ExitCode.Config);
  return { server, token, ...(caFile && { caFile }) };
}

/** The server URL this run talks to, for hints in error messages: --server, then RMM_SERVER, then the stored login; never throws. */
export function serverInUse(argv: string[] = process.argv, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const flag = argv.findIndex((a) => a === "--server" || a.startsWith("--server="));
  if (flag >= 0) return argv[flag]!.includes("=") ? argv[flag]!.slice("--server=".length) : argv[flag + 1];
  if (env["RMM_SERVER"]) return env["RMM_SERVER"];
  try {
    return readConfigFile(configPath(env)).server;
  } catch {
    return undefined;
  }
}
