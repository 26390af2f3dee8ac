import { CliError, ExitCode } from "./cli-error.js";

export interface RemotePath {
  agent: string;
  path: string;
}

/**
 * `AGENT:PATH` (as scp writes it), or undefined for a local path. A single
 * letter before the colon is a Windows drive, not an agent.
 */
export function parseRemotePath(arg: string): RemotePath | undefined {
  const colon = arg.indexOf(":");
  if (colon <= 1 || arg.slice(0, colon).includes("/")) return undefined;
  const path = arg.slice(colon + 1);
  if (!path) throw new CliError(`${arg} has no path after the colon: write AGENT:/absolute/path`, ExitCode.Usage);
  return { agent: arg.slice(0, colon), path };
}

export function requireRemotePath(arg: string): RemotePath {
  const remote = parseRemotePath(arg);
  if (!remote) throw new CliError(`${arg} is not AGENT:PATH`, ExitCode.Usage);
  return remote;
}
