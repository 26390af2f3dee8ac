import { lstat, mkdir } from "node:fs/promises";
import { win32 } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { downloadFile, uploadFile, type TransferResult } from "../client/file-transfer.js";
import { FileKind, type FileInfo } from "../gen/rmm/v1/file_pb.js";
import type { CopyPlan, PlannedFile } from "./copy-plan.js";
import { listRemote, remoteEntry, type RemoteFiles } from "./remote-tree.js";
import type { TreeProgress } from "./tree-progress.js";

/**
 * Files transferred at once in a tree copy. Small files are dominated by
 * round trips (a prepare, an upload, the agent's install), so a few in
 * flight fill the link; more would only hold more partial files open.
 */
export const PARALLEL_FILES = 4;

export interface CopyRunOptions {
  direction: "upload" | "download";
  force: boolean;
  /** Create missing remote parents (-p); a tree copy creates its own directories anyway. */
  parents: boolean;
  /** --mode for uploads; a tree upload otherwise keeps each local file's mode. */
  mode: number | undefined;
  progress: TreeProgress;
}

export interface CopyOutcome {
  copied: TransferResult[];
  /** Targets left alone because they already held the same size and modification time. */
  unchanged: string[];
}

/**
 * Carries out a plan, each file with the same verification, atomic install
 * and resume as a single copy. In a tree copy a target that already has the
 * source's size and modification time (rsync's quick check) is left alone,
 * since the copy gave it that time: running the same command again after an
 * interruption transfers only what is missing, resuming the files that were
 * in flight.
 */
export async function runCopy(files: RemoteFiles, plan: CopyPlan, opts: CopyRunOptions): Promise<CopyOutcome> {
  for (const dir of plan.directories)
    if (opts.direction === "download") await mkdir(dir, { recursive: true });
    else
      await files.client.makeDirectory(
        { sessionId: files.sessionId, directory: { path: dir, createParents: true } },
        files.signal ? { signal: files.signal } : {},
      );
  const remoteDirs = new Map<string, Promise<Map<string, FileInfo>>>();
  const existing = (f: PlannedFile) =>
    opts.direction === "download" ? localTarget(f.target) : remoteTarget(files, remoteDirs, f.target);
  const outcome: CopyOutcome = { copied: [], unchanged: [] };
  const queue = plan.files.map((file, index) => ({ file, index }));
  const worker = async () => {
    try {
      await drain();
    } catch (err) {
      // One failure ends the copy: the other workers take no new file (theirs in flight finish or are cut).
      queue.length = 0;
      throw err;
    }
  };
  const drain = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const { file, index } = next;
      if (plan.tree) {
        const there = await existing(file);
        if (there && there.size === file.size && there.mtimeMs === file.mtimeMs) {
          outcome.unchanged.push(file.target);
          opts.progress.alreadyThere(file.size);
          continue;
        }
      }
      outcome.copied.push(await transfer(files, plan, opts, file, index));
      opts.progress.finished(index, file.size);
    }
  };
  await Promise.all(Array.from({ length: plan.tree ? PARALLEL_FILES : 1 }, worker));
  outcome.copied.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return outcome;
}

async function transfer(
  files: RemoteFiles,
  plan: CopyPlan,
  opts: CopyRunOptions,
  file: PlannedFile,
  index: number,
): Promise<TransferResult> {
  const common = {
    sessionId: files.sessionId,
    overwrite: opts.force,
    keepModifyTime: plan.tree,
    onProgress: (p: { transferred: number; total: number; resumedFrom: number }) => opts.progress.file(index, p),
    ...(files.signal && { signal: files.signal }),
  };
  if (opts.direction === "download")
    return downloadFile(files.client, { ...common, remotePath: file.source, localPath: file.target, keepMode: true });
  const mode = opts.mode ?? (plan.tree ? file.mode & 0o777 : undefined);
  return uploadFile(files.client, {
    ...common,
    localPath: file.source,
    remotePath: file.target,
    createParents: opts.parents || plan.tree,
    ...(mode !== undefined && { mode }),
  });
}

async function localTarget(path: string): Promise<{ size: number; mtimeMs: number } | undefined> {
  const s = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw err;
  });
  return s?.isFile() ? { size: s.size, mtimeMs: Math.trunc(s.mtimeMs) } : undefined;
}

/** The remote target's size and time, from one listing per directory (not one Stat per file). */
async function remoteTarget(
  files: RemoteFiles,
  dirs: Map<string, Promise<Map<string, FileInfo>>>,
  path: string,
): Promise<{ size: number; mtimeMs: number } | undefined> {
  const dir = files.paths.dirname(path);
  // A Windows file system finds a name whatever its case: so does this lookup.
  const key = (name: string) => (files.paths === win32 ? name.toLowerCase() : name);
  let listing = dirs.get(dir);
  if (!listing) {
    listing = listRemote(files, dir).then(
      (entries) => new Map(entries.map((e) => [key(e.name), e])),
      (err: unknown) => {
        // Not there yet: nothing in it is copied.
        if (err instanceof ConnectError && err.code === Code.NotFound) return new Map<string, FileInfo>();
        throw err;
      },
    );
    dirs.set(dir, listing);
  }
  const info = (await listing).get(key(files.paths.basename(path)));
  return info?.kind === FileKind.FILE ? remoteEntry(info.name, info) : undefined;
}
