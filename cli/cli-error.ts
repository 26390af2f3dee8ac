import { Code, ConnectError } from "@connectrpc/connect";

/**
 * rmm's own exit statuses, distinct per kind of failure so scripts can tell
 * them apart. `rmm exec` and `rmm shell` otherwise exit with the remote
 * program's status, as ssh does.
 */
export const ExitCode = {
  Failure: 1,
  Usage: 2,
  Config: 3,
  Unauthenticated: 4,
  PermissionDenied: 5,
  NotFound: 6,
  Unavailable: 7,
  Conflict: 8,
  InvalidArgument: 9,
  Timeout: 10,
  DataLoss: 11,
  Interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A failure worth one line to the user, never a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
  }
}

/**
 * The one table from a gRPC code to rmm's exit status, for RPC errors and
 * channel ends alike; README's table of exit statuses says the same.
 * FailedPrecondition is what the server answers for an agent that is offline
 * or revoked, hence 7. Codes not listed exit with 1.
 */
const byCode: Partial<Record<Code, ExitCode>> = {
  [Code.Unauthenticated]: ExitCode.Unauthenticated,
  [Code.PermissionDenied]: ExitCode.PermissionDenied,
  [Code.NotFound]: ExitCode.NotFound,
  [Code.Unavailable]: ExitCode.Unavailable,
  [Code.FailedPrecondition]: ExitCode.Unavailable,
  [Code.AlreadyExists]: ExitCode.Conflict,
  [Code.Aborted]: ExitCode.Conflict,
  [Code.InvalidArgument]: ExitCode.InvalidArgument,
  [Code.OutOfRange]: ExitCode.InvalidArgument,
  [Code.DeadlineExceeded]: ExitCode.Timeout,
  [Code.DataLoss]: ExitCode.DataLoss,
  [Code.Canceled]: ExitCode.Interrupted,
};

export function exitCodeFor(code: Code): ExitCode {
  return byCode[code] ?? ExitCode.Failure;
}

/** Turns whatever was thrown into one actionable line and an exit status. */
export function toCliError(err: unknown): CliError {
  if (err instanceof CliError) return err;
  if (err instanceof ConnectError) {
    const exitCode = exitCodeFor(err.code);
    if (err.code === Code.Unauthenticated) {
      const expired = /exp/i.test(err.rawMessage);
      return new CliError(
        expired ? `token expired: run rmm login --token NEW_TOKEN` : `not signed in (${err.rawMessage}): run rmm login`,
        exitCode,
      );
    }
    if (err.code === Code.Unavailable && /ECONNREFUSED|connect|socket|network/i.test(err.rawMessage)) {
      return new CliError(
        `cannot reach the server (${err.rawMessage}): is it running, and is the URL in rmm login right?`,
        exitCode,
      );
    }
    return new CliError(err.rawMessage, exitCode);
  }
  const sys = err as NodeJS.ErrnoException;
  if (sys?.code === "ENOENT" || sys?.code === "EACCES" || sys?.code === "EISDIR")
    return new CliError(sys.message, sys.code === "EACCES" ? ExitCode.PermissionDenied : ExitCode.NotFound);
  return new CliError(err instanceof Error ? err.message : String(err), ExitCode.Failure);
}

/** Runs a parser of user input, turning its error into a usage error. */
export function usage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new CliError((err as Error).message, ExitCode.Usage);
  }
}
