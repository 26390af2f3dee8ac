import { mkdir, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import type { MakeDirectory } from "../../gen/rmm/v1/file_pb.js";
import type { ChannelIo } from "../channel-io.js";
import { describeResolved } from "./file-info.js";
import { fileError } from "./file-error.js";
import { FileOperation } from "./file-operation.js";
import type { FileRoots } from "./file-roots.js";

/** Permission bits of a directory made without a mode (before the umask), as mkdir(1) gives. */
export const DEFAULT_DIRECTORY_MODE = 0o755;

/**
 * Creates a directory (with its missing parents when asked), as mkdir and
 * `mkdir -p` do: one already there is success, anything else at the path is
 * AlreadyExists. Answers with the directory's metadata, then closes.
 */
export class MakeDirectoryOperation extends FileOperation {
  constructor(
    io: ChannelIo,
    private readonly roots: FileRoots,
    private readonly target: MakeDirectory,
  ) {
    super(io);
  }

  protected async start(): Promise<void> {
    const { path: asked, createParents } = this.target;
    if (this.target.mode > 0o7777)
      throw new ConnectError(
        `mode 0${this.target.mode.toString(8)} is not a permission mode (at most 07777)`,
        Code.InvalidArgument,
      );
    // Judged through the nearest existing parent, so a symlink inside an allowed directory cannot lead outside.
    const path = await this.roots.resolve(asked);
    const existing = await stat(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return undefined;
      throw fileError(err, "cannot check", asked);
    });
    if (existing && !existing.isDirectory())
      throw new ConnectError(`${asked} already exists and is not a directory`, Code.AlreadyExists);
    if (!existing) {
      if (!createParents) {
        const parent = await stat(dirname(path)).catch(() => undefined);
        if (!parent)
          throw new ConnectError(
            `directory ${dirname(asked)} does not exist: create it or set create_parents`,
            Code.NotFound,
          );
      }
      await mkdir(path, { recursive: createParents, mode: this.target.mode || DEFAULT_DIRECTORY_MODE }).catch(
        (err: NodeJS.ErrnoException) => {
          // Made by someone else meanwhile: what was asked for is there.
          if (err.code !== "EEXIST") throw fileError(err, "cannot create directory", asked);
        },
      );
    }
    const info = await describeResolved(path).catch((err: unknown) => {
      throw fileError(err, "cannot stat", asked);
    });
    if (this.closed) return;
    this.io.sendInfo({ kind: { case: "fileInfo", value: { ...info, path: asked } } });
    this.finish(0);
  }
}
