/** Building paths on the agent in the page, with the agent's own rules (the browser has no node:path). */
export interface AgentPaths {
  /** Where browsing starts: the agent user's home when reported, else the root. */
  start: string;
  join(dir: string, name: string): string;
  /** The directory holding `path`; a root is its own parent. */
  parent(path: string): string;
  isRoot(path: string): boolean;
}

const WINDOWS_ABSOLUTE = /^[A-Za-z]:[\\/]/;

/**
 * Windows rules (either separator, drive roots, "\" when joining) for an
 * agent whose hello reported a Windows OS (`win32 x64`) or home, posix
 * otherwise: the same reading as the CLI's remotePathStyle.
 */
export function agentPaths(agent: { os: string; homeDirectory: string }): AgentPaths {
  const windows = agent.os.startsWith("win32") || WINDOWS_ABSOLUTE.test(agent.homeDirectory);
  if (!windows)
    return {
      start: agent.homeDirectory || "/",
      join: (dir, name) => `${dir.replace(/\/+$/, "")}/${name}`,
      parent: (path) => {
        const trimmed = path.replace(/\/+$/, "");
        const at = trimmed.lastIndexOf("/");
        return at <= 0 ? "/" : trimmed.slice(0, at);
      },
      isRoot: (path) => /^\/*$/.test(path),
    };
  const isRoot = (path: string) => /^[A-Za-z]:[\\/]*$/.test(path);
  return {
    start: agent.homeDirectory || "C:\\",
    join: (dir, name) => `${dir.replace(/[\\/]+$/, "")}\\${name}`,
    parent: (path) => {
      if (isRoot(path)) return `${path.slice(0, 2)}\\`;
      const trimmed = path.replace(/[\\/]+$/, "");
      const at = Math.max(trimmed.lastIndexOf("\\"), trimmed.lastIndexOf("/"));
      return at <= 2 ? `${trimmed.slice(0, 2)}\\` : trimmed.slice(0, at);
    },
    isRoot,
  };
}
