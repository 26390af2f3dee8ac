import { Code, ConnectError } from "@connectrpc/connect";
import { errnoCode, errnoOf } from "../../common/errno-code.js";

/** How the agent words the errnos technicians meet most; the others are shown as the errno itself. */
const ERRNO_WORDS: Readonly<Record<string, string>> = {
  ENOENT: "no such file or directory",
  ENOTDIR: "a parent is not a directory",
  EISDIR: "is a directory",
  EEXIST: "already exists",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "read-only filesystem",
  ENOSPC: "no space left on the agent's disk",
  EFBIG: "file too large for the agent's disk or limits",
  EDQUOT: "disk quota exceeded on the agent",
  ELOOP: "too many levels of symbolic links",
  ENAMETOOLONG: "name too long",
};

/** A ConnectError for `err` while doing `what` on `path`; ConnectErrors pass through. */
export function fileError(err: unknown, what: string, path: string): ConnectError {
  if (err instanceof ConnectError) return err;
  const code = errnoCode(err);
  const errno = errnoOf(err);
  if (errno !== undefined && code !== Code.Internal)
    return new ConnectError(`${what} ${path}: ${ERRNO_WORDS[errno] ?? errno} (${errno})`, code);
  return new ConnectError(`${what} ${path}: ${err instanceof Error ? err.message : String(err)}`, code);
}
