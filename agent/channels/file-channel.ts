import { Code, ConnectError } from "@connectrpc/connect";
import { DownloadOperation } from "../files/download-operation.js";
import type { FileRoots } from "../files/file-roots.js";
import { ListOperation } from "../files/list-operation.js";
import { MakeDirectoryOperation } from "../files/make-directory-operation.js";
import { PartialLocks } from "../files/partial-locks.js";
import { PrepareUploadOperation } from "../files/prepare-upload-operation.js";
import { StatOperation } from "../files/stat-operation.js";
import { UploadOperation } from "../files/upload-operation.js";
import { FILE_WINDOW_BYTES } from "../../common/file-chunks.js";
import type { ChannelOpen } from "../../gen/rmm/v1/frame_pb.js";
import type { ChannelFactory } from "./channel-factory.js";
import type { ChannelHandler, ChannelIo } from "../channel-io.js";

/**
 * File channels: one operation each (stat, list, prepare upload, upload,
 * download, make directory), set by the open frame and confined to `roots` and to the
 * technician role's path globs sent with it (checked on the real path). The server opens
 * them for its file RPCs; technicians cannot open them directly.
 */
export function fileChannel(allRoots: FileRoots): ChannelFactory {
  const locks = new PartialLocks();
  const factory = (io: ChannelIo, open: ChannelOpen): ChannelHandler => {
    if (open.params.case !== "file")
      throw new ConnectError("a file channel needs its file operation", Code.InvalidArgument);
    const op = open.params.value.kind;
    const roots = allRoots.narrowedTo(open.params.value.allowedPaths);
    switch (op.case) {
      case "statPath":
        return new StatOperation(io, roots, op.value);
      case "listPath":
        return new ListOperation(io, roots, op.value);
      case "prepareUpload":
        return new PrepareUploadOperation(io, roots, locks, op.value);
      case "upload":
        return new UploadOperation(io, roots, locks, op.value);
      case "download":
        return new DownloadOperation(io, roots, op.value);
      case "makeDirectory":
        return new MakeDirectoryOperation(io, roots, op.value);
      case undefined:
        throw new ConnectError(
          "the file operation is empty: set one of stat_path, list_path, prepare_upload, upload, download, make_directory",
          Code.InvalidArgument,
        );
    }
  };
  return Object.assign(factory, { windowBytes: FILE_WINDOW_BYTES });
}
