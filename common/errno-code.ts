import { Code } from "@connectrpc/connect";

/**
 * Filesystem errno -> the status a caller sees, for the agent's file
 * operations and the client's local files alike: the one place such errors
 * are mapped. ENOTDIR and EISDIR are FailedPrecondition (the path names the
 * wrong kind of file for the operation); ELOOP and ENAMETOOLONG are
 * InvalidArgument (no filesystem state could make that path work).
 */
const ERRNO_CODES: Readonly<Record<string, Code>> = {
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

/** The errno of a Node filesystem error, if it has one. */
export function errnoOf(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}

/** The status for a filesystem error; Internal for errnos (or errors) this mapping does not know. */
export function errnoCode(err: unknown): Code {
  const errno = errnoOf(err);
  return (errno !== undefined && ERRNO_CODES[errno]) || Code.Internal;
}
