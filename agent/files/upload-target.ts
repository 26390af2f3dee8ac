import { constants } from "node:fs";
import { access, mkdir, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { versionFromProto, type FileVersionKey } from "../../common/file-version.js";
import { uploadPartialPath } from "../../common/partial-file.js";
import type { UploadTarget } from "../../gen/rmm/v1/file_pb.js";
import { fileError } from "./file-error.js";
import type { FileRoots } from "./file-roots.js";

/** An upload target that passed the agent's checks. */
export interface CheckedTarget {
  /** Real path the file will be installed at. */
  path: string;
  /** Where its bytes are kept until the hash matched. */
  partialPath: string;
  source: FileVersionKey;
  overwrite: boolean;
  mode: number;
  /** Set the installed file's modification time to the source's (UploadTarget.keep_modify_time). */
  keepModifyTime: boolean;
}

/** Default permission bits of an uploaded file. */
export const DEFAULT_UPLOAD_MODE = 0o644;

/**
 * Checks an upload target before any data is written: inside the roots, not a
 * directory, not existing unless overwrite, a writable parent (created when
 * asked). The same checks run at prepare and at upload start, so a target
 * that changed in between is caught before data flows.
 */
export async function checkUploadTarget(
  roots: FileRoots,
  target: UploadTarget | undefined,
  createMissingParents: boolean,
): Promise<CheckedTarget> {
  if (!target) throw new ConnectError("upload target is missing", Code.InvalidArgument);
  const source = versionFromProto(target.source);
  if (!source)
    throw new ConnectError("upload target has no source version (size and modification time)", Code.InvalidArgument);
  if (target.mode > 0o7777)
    throw new ConnectError(
      `mode 0${target.mode.toString(8)} is not a permission mode (at most 07777)`,
      Code.InvalidArgument,
    );
  const path = await roots.resolve(target.path);
  const existing = await stat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw fileError(err, "cannot check", target.path);
  });
  if (existing?.isDirectory())
    throw new ConnectError(
      `${target.path} is a directory: give the path of the file to write`,
      Code.FailedPrecondition,
    );
  if (existing && !target.overwrite)
    throw new ConnectError(`${target.path} already exists: set overwrite to replace it`, Code.AlreadyExists);
  const parent = dirname(path);
  const parentStat = await stat(parent).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw fileError(err, "cannot check", parent);
  });
  if (!parentStat) {
    if (!target.createParents)
      throw new ConnectError(`directory ${parent} does not exist: create it or set create_parents`, Code.NotFound);
    // A prepare only checks; the directories are created once data really comes.
    if (!createMissingParents) return checked(path, target, source);
    await mkdir(parent, { recursive: true }).catch((err: unknown) => {
      throw fileError(err, "cannot create directory", parent);
    });
  } else if (!parentStat.isDirectory()) {
    throw new ConnectError(`${parent} is not a directory`, Code.FailedPrecondition);
  }
  await access(parent, constants.W_OK).catch((err: unknown) => {
    throw fileError(err, "cannot write in", parent);
  });
  return checked(path, target, source);
}

function checked(path: string, target: UploadTarget, source: FileVersionKey): CheckedTarget {
  return {
    path,
    partialPath: uploadPartialPath(path, source),
    source,
    overwrite: target.overwrite,
    mode: target.mode || DEFAULT_UPLOAD_MODE,
    keepModifyTime: target.keepModifyTime,
  };
}

/** Bytes of this source already held from an interrupted upload; 0 when none (or stale). */
export async function heldBytes(target: CheckedTarget): Promise<number> {
  const s = await stat(target.partialPath).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw fileError(err, "cannot check partial upload", target.partialPath);
  });
  return s && s.isFile() && s.size <= target.source.size ? s.size : 0;
}
