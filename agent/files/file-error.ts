import { Code, ConnectError } from "@connectrpc/connect";

/** Filesystem errno -> the status a technician sees. The one place such errors are mapped. */
const ERRNO_CODES: Record<string, Code> = {
  ENOENT: Code.NotFound,
  ENOTDIR: Code.FailedPrecondition,
  EISDIR: Code.FailedPrecondition,
  EEXIST: Code.AlreadyExists,
  EACCES: Code.PermissionDenied,
  EPERM: Code.PermissionDenied,
  EROFS: Code.PermissionDenied,
  ENOSPC: Code.ResourceExhausted,
  EFBIG: Code.ResourceExhausted,
  EDQUOT: Code.ResourceExhausted,
  EMFILE: Code.ResourceExhausted,
  ENFILE: Code.ResourceExhausted,
  ENAMETOOLONG: Code.InvalidArgument,
  ELOOP: Code.InvalidArgument,
};

const ERRNO_WORDS: Record<string, string> = {
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
};

/** A ConnectError for `err` while doing `what` on `path`; ConnectErrors pass through. */
export function fileError(err: unknown, what: string, path: string): ConnectError {
  if (err instanceof ConnectError) return err;
  const errno = (err as NodeJS.ErrnoException).code;
  if (errno && errno in ERRNO_CODES) {
    return new ConnectError(`${what} ${path}: ${ERRNO_WORDS[errno] ?? errno} (${errno})`, ERRNO_CODES[errno]);
  }
  return new ConnectError(`${what} ${path}: ${err instanceof Error ? err.message : String(err)}`, Code.Internal);
}
