import { posix, win32, type PlatformPath } from "node:path";
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
 * The path rules of the agent's system: win32 (either separator, a drive,
 * names compared without regard to case) for an agent whose hello reported
 * a Windows OS (`win32 x64`, from Node's platform()) or a Windows home
 * directory, posix otherwise. Remote paths are joined, split and compared
 * with these, never with the technician's own system's.
 */
export function remotePathStyle(agent: { os?: string; homeDirectory?: string }): PlatformPath {
  return agent.os?.startsWith("win32") || WINDOWS_ABSOLUTE.test(agent.homeDirectory ?? "") ? win32 : posix;
}

/** Whether `path` ends with a separator of `paths` (a trailing / means "into this directory"; \\ too on Windows). */
export function endsWithSeparator(paths: PlatformPath, path: string): boolean {
  return path.endsWith("/") || (paths === win32 && path.endsWith("\\"));
}

/**
 * The path on the agent that `path` names: itself when absolute, else joined
 * to the home directory the agent reported (Agent.home_directory) with the
 * agent's path rules (remotePathStyle). A trailing separator is kept, since
 * it means "into this directory".
 */
export function absoluteRemotePath(
  path: string,
  agent: Pick<Agent, "hostname" | "homeDirectory"> & { os?: string },
): string {
  if (path.startsWith("/") || WINDOWS_ABSOLUTE.test(path)) return path;
  const home = agent.homeDirectory;
  if (!home)
    throw new CliError(
      `${path || "an empty path"} is relative to the home directory, which agent ${agent.hostname} does not report ` +
        "(an older agent): write an absolute path, AGENT:/path",
      ExitCode.Usage,
    );
  const paths = remotePathStyle(agent);
  const joined = paths.join(home, path);
  return endsWithSeparator(paths, path) && !endsWithSeparator(paths, joined) ? `${joined}${paths.sep}` : joined;
}

/** An absolute remote path as its root ("/", "C:\\" or "C:/") and its segments, split on the agent's separators. */
export function remoteSegments(paths: PlatformPath, path: string): { root: string; segments: string[] } {
  const { root } = paths.parse(path);
  const segments = path.slice(root.length).split(paths === win32 ? /[\\/]/ : "/");
  return { root, segments: segments.filter(Boolean) };
}
