import { stat } from "node:fs/promises";
import { basename, join, type PlatformPath } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { errnoCode } from "../common/errno-code.js";
import { FileKind, type FileInfo } from "../gen/rmm/v1/file_pb.js";
import type { Agent } from "../gen/rmm/v1/tunnel_service_pb.js";
import { CliError, ExitCode } from "./cli-error.js";
import { localEntry, walkLocalTree } from "./local-tree.js";
import { absoluteRemotePath, endsWithSeparator, parseRemotePath } from "./remote-path.js";
import {
  expandRemoteGlob,
  isRemoteGlob,
  remoteEntry,
  statRemote,
  walkRemoteTree,
  type RemoteFiles,
  type TreeEntry,
} from "./remote-tree.js";

/** Which way a copy goes and what it names, read from the arguments alone (no network). */
export interface CopyArgs {
  direction: "upload" | "download";
  agent: string;
  /** Local paths (upload) or remote paths as written (download). */
  sources: string[];
  /** A remote path as written (upload) or a local path (download). */
  destination: string;
}

/** One file to transfer: where from, where to, and what the source is (for the quick check on a rerun). */
export interface PlannedFile {
  source: string;
  target: string;
  size: number;
  mtimeMs: number;
  mode: number;
}

export interface CopyPlan {
  files: PlannedFile[];
  /**
   * Directories to create before any file, parents first: every one of a
   * downloaded tree (local), and those of an uploaded tree that no file
   * creates on the way (its empty directories, on the agent), as scp -r makes
   * them.
   */
  directories: string[];
  /** Symlinks to directories and special files, which are not copied. */
  skipped: string[];
  /**
   * A directory tree or several sources: files keep their modification
   * times, a target already holding the same size and time is left alone (so
   * running the command again resumes), and directories inside the tree are
   * created.
   */
  tree: boolean;
  /**
   * Set when one directory was copied to a new name (`cp -r dir new`): that
   * name exists after the first run, so running the same command again would
   * copy into it (`new/dir`), as cp and scp do. Resume such a copy with the
   * source written `dir/` (its contents into `new`).
   */
  renamed?: { source: string; destination: string };
}

/**
 * `rmm cp SRC... DST`: every source on one side, the destination on the
 * other, as with scp. Sources on an agent all name the same agent.
 */
export function copyArgs(args: string[]): CopyArgs {
  if (args.length < 2) throw new CliError("give a source and a destination: rmm cp SRC... DST", ExitCode.Usage);
  const destination = args.at(-1)!;
  const sources = args.slice(0, -1);
  const to = parseRemotePath(destination);
  const from = sources.map(parseRemotePath);
  if (to) {
    if (from.some(Boolean))
      throw new CliError(
        "both sides name an agent: copy to your machine first, then up to the other agent",
        ExitCode.Usage,
      );
    return { direction: "upload", agent: to.agent, sources, destination: to.path };
  }
  if (from.every((r) => r === undefined))
    throw new CliError("neither side names an agent: write one side as AGENT:PATH", ExitCode.Usage);
  if (from.some((r) => r === undefined))
    throw new CliError(
      "some sources are local and some on an agent: copy each way with its own rmm cp",
      ExitCode.Usage,
    );
  const agents = new Set(from.map((r) => r!.agent));
  if (agents.size > 1)
    throw new CliError(
      `the sources name ${agents.size} agents (${[...agents].join(", ")}): copy from one agent at a time`,
      ExitCode.Usage,
    );
  return { direction: "download", agent: from[0]!.agent, sources: from.map((r) => r!.path), destination };
}

/** The files of an upload: local sources (directories with -r) into a remote file or directory. */
export async function planUpload(
  files: RemoteFiles,
  agent: Agent,
  args: CopyArgs,
  recursive: boolean,
): Promise<CopyPlan> {
  const dest = absoluteRemotePath(args.destination, agent);
  const destInfo = await statRemote(files, dest).catch((err: unknown) => {
    // A role may write where it may not read: then only a trailing / says "into this directory".
    if (err instanceof ConnectError && err.code === Code.PermissionDenied) return undefined;
    throw err;
  });
  const many = args.sources.length > 1;
  if (many && destInfo && destInfo.kind !== FileKind.DIRECTORY) throw notADirectory(`${args.agent}:${dest}`);
  const into = many || endsWithSeparator(files.paths, dest) || destInfo?.kind === FileKind.DIRECTORY;
  const plan: CopyPlan = { files: [], directories: [], skipped: [], tree: many };
  for (const source of args.sources) {
    const s = await stat(source).catch((err: unknown) => {
      throw new ConnectError(`cannot read ${source}: ${(err as Error).message}`, errnoCode(err));
    });
    const name = basename(source);
    if (s.isDirectory()) {
      if (!recursive) throw isADirectory(source);
      plan.tree = true;
      // `dir/` is the directory's contents, as rsync reads it: they land in dest itself.
      const root = into && !source.endsWith("/") ? files.paths.join(dest, name) : dest;
      if (!into && !source.endsWith("/")) plan.renamed = { source, destination: `${args.agent}:${dest}` };
      const walked = await walkLocalTree(source);
      plan.skipped.push(...walked.skipped);
      const dirs = [root];
      for (const e of walked.entries) {
        const target = files.paths.join(root, e.relative);
        if (e.kind === "file") plan.files.push(planned(join(source, e.relative), target, e));
        else dirs.push(target);
      }
      plan.directories.push(...emptyOnes(files.paths, dirs, plan.files));
    } else if (s.isFile()) {
      plan.files.push(planned(source, into ? files.paths.join(dest, name) : dest, localEntry(name, "file", s)));
    } else plan.skipped.push(source);
  }
  return plan;
}

/** The files of a download: remote sources (globs expanded, directories with -r) into a local file or directory. */
export async function planDownload(
  files: RemoteFiles,
  agent: Agent,
  args: CopyArgs,
  recursive: boolean,
): Promise<CopyPlan> {
  const dest = args.destination;
  const sources: FileInfo[] = [];
  for (const written of args.sources) {
    const path = absoluteRemotePath(written, agent);
    if (isRemoteGlob(path, files.paths)) sources.push(...(await expandRemoteGlob(files, path)));
    else {
      const info = (await files.client.stat({ sessionId: files.sessionId, path }, callOptions(files))).info;
      if (info) sources.push({ ...info, path });
    }
  }
  const destStat = await stat(dest).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw new ConnectError(`cannot check ${dest}: ${err.message}`, errnoCode(err));
  });
  const many = sources.length > 1;
  if (many && !destStat?.isDirectory())
    throw destStat
      ? notADirectory(dest)
      : new CliError(`${dest} does not exist: several sources go into an existing directory`, ExitCode.NotFound);
  const into = many || dest.endsWith("/") || destStat?.isDirectory() === true;
  const plan: CopyPlan = { files: [], directories: [], skipped: [], tree: many };
  for (const info of sources) {
    const name = files.paths.basename(info.path);
    if (info.kind === FileKind.DIRECTORY) {
      if (!recursive) throw isADirectory(info.path, ", or list it with rmm ls");
      plan.tree = true;
      const contents = endsWithSeparator(files.paths, info.path);
      const root = into && !contents ? join(dest, name) : dest;
      if (!into && !contents) plan.renamed = { source: `${args.agent}:${info.path}`, destination: dest };
      plan.directories.push(root);
      const walked = await walkRemoteTree(files, info.path);
      plan.skipped.push(...walked.skipped);
      for (const e of walked.entries) {
        const target = join(root, ...e.relative.split("/"));
        if (e.kind === "directory") plan.directories.push(target);
        else plan.files.push(planned(files.paths.join(info.path, e.relative), target, e));
      }
    } else if (info.kind === FileKind.FILE) {
      plan.files.push(planned(info.path, into ? join(dest, name) : dest, remoteEntry(name, info)));
    } else plan.skipped.push(info.path);
  }
  return plan;
}

/**
 * The directories among `dirs` that nothing below them creates: an upload
 * makes a file's parents as it installs it (create_parents), and one
 * MakeDirectory with create_parents makes a directory's, so only these need a
 * call of their own.
 */
function emptyOnes(paths: PlatformPath, dirs: string[], files: PlannedFile[]): string[] {
  const below = (dir: string, path: string) => path.startsWith(dir.endsWith(paths.sep) ? dir : dir + paths.sep);
  return dirs.filter((d) => !files.some((f) => below(d, f.target)) && !dirs.some((o) => o !== d && below(d, o)));
}

function planned(source: string, target: string, e: TreeEntry): PlannedFile {
  return { source, target, size: e.size, mtimeMs: e.mtimeMs, mode: e.mode };
}

function callOptions(files: RemoteFiles) {
  return files.signal ? { signal: files.signal } : {};
}

function isADirectory(path: string, more = ""): CliError {
  return new CliError(`${path} is a directory: copy it with rmm cp -r${more}`, ExitCode.InvalidArgument);
}

function notADirectory(path: string): CliError {
  return new CliError(`${path} is not a directory: several sources go into a directory`, ExitCode.InvalidArgument);
}
