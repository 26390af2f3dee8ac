import { posix, win32 } from "node:path";
import type { Agent } from "../gen/rmm/v1/tunnel_service_pb.js";
import { CliError, ExitCode } from "./cli-error.js";

export interface RemotePath {
  agent: string;
  /** As written: absolute, relative to the agent user's home, or "" for the home itself. */
  path: string;
}

/**
 * `AGENT:PATH` (as scp writes it), or undefined for a local path. A single
 * letter before the colon is a Windows drive, not an agent. A relative PATH
 * (`AGENT:notes.txt`) or none (`AGENT:`) is under the agent user's home, as
 * with scp; resolve it with absoluteRemotePath once the agent is known.
 */
export function parseRemotePath(arg: string): RemotePath | undefined {
  const colon = arg.indexOf(":");
  if (colon <= 1 || arg.slice(0, colon).includes("/")) return undefined;
  return { agent: arg.slice(0, colon), path: arg.slice(colon + 1) };
}

export function requireRemotePath(arg: string): RemotePath {
  const remote = parseRemotePath(arg);
  if (!remote) throw new CliError(`${arg} is not AGENT:PATH`, ExitCode.Usage);
  return remote;
}

const WINDOWS_ABSOLUTE = /^[A-Za-z]:[\\/]/;

/**
 * The path on the agent that `path` names: itself when absolute, else joined
 * to the home directory the agent reported (Agent.home_directory), with
 * Windows rules when that home is a Windows path. A trailing / is kept, since
 * it means "into this directory".
 */
export function absoluteRemotePath(path: string, agent: Pick<Agent, "hostname" | "homeDirectory">): string {
  if (path.startsWith("/") || WINDOWS_ABSOLUTE.test(path)) return path;
  const home = agent.homeDirectory;
  if (!home)
    throw new CliError(
      `${path || "an empty path"} is relative to the home directory, which agent ${agent.hostname} does not report ` +
        "(an older agent): write an absolute path, AGENT:/path",
      ExitCode.Usage,
    );
  const joined = (WINDOWS_ABSOLUTE.test(home) ? win32 : posix).join(home, path);
  return path.endsWith("/") && !joined.endsWith("/") ? `${joined}/` : joined;
}
