import type { Stats } from "node:fs";
import { lstat, readlink, stat } from "node:fs/promises";
import { basename } from "node:path";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { FileKind, type FileInfoSchema } from "../../gen/rmm/v1/file_pb.js";

export type FileInfoInit = MessageInitShape<typeof FileInfoSchema>;

function kindOf(s: Stats): FileKind {
  if (s.isFile()) return FileKind.FILE;
  if (s.isDirectory()) return FileKind.DIRECTORY;
  if (s.isSymbolicLink()) return FileKind.SYMLINK;
  return FileKind.OTHER;
}

export function fileInfoFromStats(path: string, s: Stats, symlinkTarget = ""): FileInfoInit {
  return {
    path,
    name: basename(path) || path,
    kind: kindOf(s),
    size: BigInt(s.size),
    mode: s.mode & 0o7777,
    modifyTime: timestampFromMs(Math.trunc(s.mtimeMs)),
    symlinkTarget,
  };
}

/** Metadata of `path` itself (a symlink is reported as a symlink, with its target). */
export async function describeEntry(path: string): Promise<FileInfoInit> {
  const s = await lstat(path);
  return fileInfoFromStats(path, s, s.isSymbolicLink() ? await readlink(path) : "");
}

/** Metadata of what `path` resolves to. */
export async function describeResolved(path: string): Promise<FileInfoInit> {
  return fileInfoFromStats(path, await stat(path));
}
