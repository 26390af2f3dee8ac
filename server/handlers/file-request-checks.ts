import { Code, ConnectError } from "@connectrpc/connect";
import { formatByteSize } from "../../common/byte-size.js";
import type { UploadTarget } from "../../gen/rmm/v1/file_pb.js";

/**
 * Checks of file requests the server can make before any channel opens. The
 * agent checks paths again against its roots, after resolving symlinks,
 * which the server cannot do.
 */
export function requireAgentPath(path: string, field = "path"): string {
  if (!path) throw new ConnectError(`${field} is empty: give an absolute path on the agent`, Code.InvalidArgument);
  if (!path.startsWith("/") && !/^[A-Za-z]:[\\/]/.test(path))
    throw new ConnectError(
      `${field} "${path}" is not absolute: give an absolute path on the agent`,
      Code.InvalidArgument,
    );
  if (path.includes("\0")) throw new ConnectError(`${field} contains a NUL byte`, Code.InvalidArgument);
  return path;
}

/** 0 means no limit. */
export function checkTransferSize(size: number, maxTransferBytes: number, path: string): void {
  if (maxTransferBytes > 0 && size > maxTransferBytes) {
    throw new ConnectError(
      `${path} is ${formatByteSize(size)}, over this server's limit of ${formatByteSize(maxTransferBytes)} per transfer (--max-transfer-bytes)`,
      Code.ResourceExhausted,
    );
  }
}

/** An upload target the server lets through to the agent: a path, a source version, a sane mode, within the size limit. */
export function checkUploadTarget(
  target: UploadTarget | undefined,
  maxTransferBytes: number,
): { target: UploadTarget; size: number } {
  if (!target)
    throw new ConnectError(
      "target is missing: give the path to write and the source's size and modification time",
      Code.InvalidArgument,
    );
  requireAgentPath(target.path, "target.path");
  if (!target.source)
    throw new ConnectError(
      "target.source is missing: give the size and modification time of the file being uploaded",
      Code.InvalidArgument,
    );
  if (target.mode > 0o7777)
    throw new ConnectError(
      `target.mode 0${target.mode.toString(8)} is not a permission mode (at most 07777)`,
      Code.InvalidArgument,
    );
  const size = Number(target.source.size);
  checkTransferSize(size, maxTransferBytes, target.path);
  return { target, size };
}

export function checkSha256(digest: Uint8Array): Uint8Array {
  if (digest.length !== 32)
    throw new ConnectError(`sha256 must be 32 bytes, got ${digest.length}`, Code.InvalidArgument);
  return digest;
}
