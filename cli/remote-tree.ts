import { win32, type PlatformPath } from "node:path";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import picomatch from "picomatch";
import { FileKind, type FileInfo } from "../gen/rmm/v1/file_pb.js";
import type { TunnelService } from "../gen/rmm/v1/tunnel_service_pb.js";
import { remoteSegments } from "./remote-path.js";

/** What the copy commands ask of the agent's files, over one session. */
export interface RemoteFiles {
  client: Client<typeof TunnelService>;
  sessionId: string;
  signal?: AbortSignal;
  /** The agent's path rules (remotePathStyle): remote paths are joined and split with these. */
  paths: PlatformPath;
}

/** One file or directory under a tree's root, by its path relative to that root ("/"-separated). */
export interface TreeEntry {
  relative: string;
  kind: "file" | "directory";
  size: number;
  /** Epoch ms, truncated. */
  mtimeMs: number;
  mode: number;
}

export async function listRemote(files: RemoteFiles, path: string): Promise<FileInfo[]> {
  const entries: FileInfo[] = [];
  const opts = files.signal ? { signal: files.signal } : {};
  for await (const batch of files.client.listDirectory({ sessionId: files.sessionId, path }, opts))
    entries.push(...batch.entries);
  return entries;
}

/** The file at `path`, or undefined when there is none. */
export async function statRemote(files: RemoteFiles, path: string): Promise<FileInfo | undefined> {
  try {
    const opts = files.signal ? { signal: files.signal } : {};
    return (await files.client.stat({ sessionId: files.sessionId, path }, opts)).info;
  } catch (err) {
    if (err instanceof ConnectError && err.code === Code.NotFound) return undefined;
    throw err;
  }
}

/**
 * Every regular file and directory under `root`, depth first, parents before
 * their children. Symlinks and special files are not followed or copied (a
 * link to a parent would never end); they are returned in `skipped`.
 */
export async function walkRemoteTree(
  files: RemoteFiles,
  root: string,
): Promise<{ entries: TreeEntry[]; skipped: string[] }> {
  const entries: TreeEntry[] = [];
  const skipped: string[] = [];
  const visit = async (relative: string): Promise<void> => {
    const listed = await listRemote(files, relative ? files.paths.join(root, relative) : root);
    listed.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const info of listed) {
      const rel = relative ? `${relative}/${info.name}` : info.name;
      if (info.kind === FileKind.DIRECTORY) {
        entries.push(entryOf(rel, "directory", info));
        await visit(rel);
      } else if (info.kind === FileKind.FILE) entries.push(entryOf(rel, "file", info));
      else skipped.push(files.paths.join(root, rel));
    }
  };
  await visit("");
  return { entries, skipped };
}

function entryOf(relative: string, kind: TreeEntry["kind"], info: FileInfo): TreeEntry {
  const ms = info.modifyTime ? Number(info.modifyTime.seconds) * 1000 + Math.floor(info.modifyTime.nanos / 1e6) : 0;
  return { relative, kind, size: Number(info.size), mtimeMs: ms, mode: info.mode };
}

export function remoteEntry(relative: string, info: FileInfo): TreeEntry {
  return entryOf(relative, info.kind === FileKind.DIRECTORY ? "directory" : "file", info);
}

/**
 * Whether a remote path has glob syntax (`*`, `?`, `[...]`, `{a,b}`) for
 * expandRemoteGlob. On a Windows agent a backslash separates, it does not
 * escape, so it is read as "/" first.
 */
export function isRemoteGlob(path: string, paths: PlatformPath): boolean {
  return picomatch.scan(paths === win32 ? path.replaceAll("\\", "/") : path).isGlob;
}

/**
 * The files and directories on the agent that an absolute glob matches
 * (`/var/log/*.log`, `/srv/{a,b}/conf/*.yml`, `C:\\logs\\*.log`), sorted by
 * path, expanded as a shell would: segment by segment, listing each directory
 * a glob segment applies to and matching its entries with picomatch; names
 * starting with a dot match only a pattern that starts with one, and on a
 * Windows agent names match without regard to case, as its file system
 * compares them. A pattern that matches nothing is NotFound, as scp's remote
 * shell says.
 */
export async function expandRemoteGlob(files: RemoteFiles, pattern: string): Promise<FileInfo[]> {
  const { root, segments } = remoteSegments(files.paths, pattern);
  let candidates: Array<{ path: string; info?: FileInfo }> = [{ path: root }];
  for (const [i, segment] of segments.entries()) {
    const last = i === segments.length - 1;
    if (!picomatch.scan(segment).isGlob) {
      candidates = candidates.map((c) => ({ path: files.paths.join(c.path, segment) }));
      continue;
    }
    const matches = picomatch(segment, { dot: false, nocase: files.paths === win32 });
    const next: typeof candidates = [];
    for (const c of candidates) {
      const listed = await listRemote(files, c.path).catch((err: unknown) => {
        // A literal segment that names no directory: nothing matches under it.
        if (
          err instanceof ConnectError &&
          [Code.NotFound, Code.InvalidArgument, Code.FailedPrecondition].includes(err.code)
        )
          return [];
        throw err;
      });
      for (const info of listed)
        if (matches(info.name) && (last || info.kind === FileKind.DIRECTORY))
          next.push({ path: files.paths.join(c.path, info.name), info });
    }
    candidates = next;
  }
  const found: FileInfo[] = [];
  for (const c of candidates) {
    const info = c.info ?? (await statRemote(files, c.path));
    // The path as the pattern spelled it: an entry's own path may have its symlinks resolved.
    if (info) found.push({ ...info, path: c.path });
  }
  if (found.length === 0) throw new ConnectError(`no file on the agent matches ${pattern}`, Code.NotFound);
  return found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
