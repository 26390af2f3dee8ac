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

/**
 * The file: named contexts (one server and token each, as kubectl and tsh keep
 * them) and the current one. A file from before contexts (one flat login) is
 * read as the context "default".
 */
export interface ConfigFile {
  current: string;
  contexts: Record<string, CliConfig>;
}

/** The context a login without --context goes to, when none is current yet. */
export const DEFAULT_CONTEXT = "default";

/** Context names: short, and safe to print and type. */
const CONTEXT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** The context chosen for this run with --context (or RMM_CONTEXT); unset, the current one. */
let selected: string | undefined;

export function selectContext(name: string | undefined): void {
  if (name !== undefined && !CONTEXT_NAME.test(name))
    throw new CliError(
      `--context ${JSON.stringify(name.slice(0, 80))} is not a context name: letters, digits, . _ - (up to 63)`,
      ExitCode.Usage,
    );
  selected = name;
}

export function readConfig(path = configPath()): ConfigFile {
  const raw = readConfigFile(path);
  if (raw.contexts && typeof raw.contexts === "object")
    return { current: typeof raw.current === "string" ? raw.current : DEFAULT_CONTEXT, contexts: raw.contexts };
  if (raw.server || raw.token) {
    const { server = "", token = "", caFile } = raw;
    return { current: DEFAULT_CONTEXT, contexts: { [DEFAULT_CONTEXT]: { server, token, ...(caFile && { caFile }) } } };
  }
  return { current: DEFAULT_CONTEXT, contexts: {} };
}

/** Writes the file atomically with mode 0600: it holds bearer tokens. */
export function writeConfig(file: ConfigFile, path = configPath()): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(file, null, 2) + "\n", { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/** The context this run uses: --context, RMM_CONTEXT, then the current one. */
export function contextName(env: NodeJS.ProcessEnv = process.env, path = configPath(env)): string {
  return selected ?? (env["RMM_CONTEXT"] || readConfig(path).current);
}

/** Stores a login in a context (the selected one, else the current one) and makes it current. */
export function saveConfig(config: CliConfig, path = configPath()): string {
  const file = readConfig(path);
  const name = contextName(process.env, path);
  writeConfig({ current: name, contexts: { ...file.contexts, [name]: config } }, path);
  return name;
}

type StoredFile = Partial<CliConfig> & { current?: unknown; contexts?: Record<string, CliConfig> };

function readConfigFile(path: string): StoredFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new CliError(`cannot read ${path}: ${(err as Error).message}`, ExitCode.Config);
  }
  try {
    return JSON.parse(text) as StoredFile;
  } catch {
    throw new CliError(`${path} is not valid JSON: run rmm login again`, ExitCode.Config);
  }
}

/**
 * The chosen context's login with RMM_SERVER / RMM_TOKEN / RMM_CA_FILE
 * overriding it; fails with a hint when something is missing.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, path = configPath(env)): CliConfig {
  const file = readConfig(path);
  const name = contextName(env, path);
  const stored: Partial<CliConfig> = file.contexts[name] ?? {};
  const explicit = selected !== undefined || !!env["RMM_CONTEXT"];
  if (explicit && !file.contexts[name] && !(env["RMM_SERVER"] && env["RMM_TOKEN"]))
    throw new CliError(
      `no context ${name}: rmm context ls lists them; rmm login --context ${name} --server URL creates it`,
      ExitCode.Config,
    );
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
    return loadConfig(env).server;
  } catch {
    return undefined;
  }
}
