import { Code, ConnectError } from "@connectrpc/connect";
import { cliWording } from "./cli-wording.js";

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

/**
 * Errors the HTTP/2 transport raises when the connection drops under a call
 * (a server crash, a TLS server spoken to over http://). connect maps a reset
 * stream to Canceled or Aborted, which would read as a Ctrl-C (130) or a
 * conflict (8): they are the server being unreachable.
 */
const CONNECTION_LOST = /http\/2 stream closed with error code|premature close|ECONNRESET|socket hang up|ERR_HTTP2_/i;
const CANNOT_CONNECT = /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|EAI_AGAIN|getaddrinfo/;

/** Whether the call failed because the connection to the server went away, not because of the server's answer. */
export function isConnectionLost(err: unknown): boolean {
  return err instanceof ConnectError && CONNECTION_LOST.test(err.rawMessage);
}

/** The hint for a lost connection: over http:// the usual cause is a server that speaks TLS. */
export function connectionLostError(rawMessage: string, server?: string): CliError {
  const tls = server?.startsWith("http://")
    ? `; if the server uses TLS, log in with https:// (and --ca FILE for a private CA)`
    : "";
  return new CliError(
    `lost the connection to the server (${rawMessage}): is it still running?${tls}`,
    ExitCode.Unavailable,
  );
}

/** Node's TLS verification failures, each with what a technician does about it. */
const TLS_ERRORS: Readonly<Record<string, string>> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: "the server's certificate is not trusted",
  SELF_SIGNED_CERT_IN_CHAIN: "the server's certificate is not trusted",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the server's certificate is not trusted",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "the server's certificate is not trusted",
  UNABLE_TO_GET_ISSUER_CERT: "the server's certificate is not trusted",
  CERT_HAS_EXPIRED: "the server's certificate has expired",
  CERT_NOT_YET_VALID: "the server's certificate is not valid yet",
  ERR_TLS_CERT_ALTNAME_INVALID: "the server's certificate is for another name",
  EPROTO: "the server does not speak TLS",
};
const TLS_FIXES: Readonly<Record<string, string>> = {
  "the server's certificate is not trusted": "pass --ca FILE (or set RMM_CA_FILE) with the CA that signed it",
  "the server's certificate has expired": "the operator renews it (rmm-server --tls-cert)",
  "the server's certificate is not valid yet": "check this machine's clock",
  "the server's certificate is for another name": "use the host name or IP address the certificate names",
  "the server does not speak TLS": "use http:// for a cleartext server",
};

function tlsError(err: unknown): CliError | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    const what = code === undefined ? undefined : TLS_ERRORS[code];
    if (what) return new CliError(`${what} (${e.message}): ${TLS_FIXES[what]}`, ExitCode.Unavailable);
  }
  return undefined;
}

/** Turns whatever was thrown into one actionable line and an exit status; `server` is the URL in use, for hints. */
export function toCliError(err: unknown, server?: string): CliError {
  if (err instanceof CliError) return err;
  const tls = tlsError(err);
  if (tls) return tls;
  if (err instanceof ConnectError) {
    const exitCode = exitCodeFor(err.code);
    if (err.code === Code.Unauthenticated) {
      const expired = /exp/i.test(err.rawMessage);
      return new CliError(
        expired ? `token expired: run rmm login --token NEW_TOKEN` : `not signed in (${err.rawMessage}): run rmm login`,
        exitCode,
      );
    }
    if (isConnectionLost(err)) return connectionLostError(err.rawMessage, server);
    if (err.code === Code.Unavailable && CANNOT_CONNECT.test(err.rawMessage)) {
      return new CliError(
        `cannot reach the server (${err.rawMessage}): is it running, and is the URL in rmm login right?`,
        exitCode,
      );
    }
    return new CliError(cliWording(err.rawMessage), exitCode);
  }
  const sys = err as NodeJS.ErrnoException;
  if (sys?.code === "ENOENT" || sys?.code === "EACCES" || sys?.code === "EISDIR")
    return new CliError(sys.message, sys.code === "EACCES" ? ExitCode.PermissionDenied : ExitCode.NotFound);
  return new CliError(err instanceof Error ? err.message : String(err), ExitCode.Failure);
}

/**
 * File operations (ls, stat, cp) answer FailedPrecondition for a path of the
 * wrong kind (ENOTDIR, EISDIR); in the one table that code means an offline
 * agent (7). Inside a session the agent was online, so such an answer is a
 * wrong path: InvalidArgument (9).
 */
export async function fileOperation<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof ConnectError && err.code === Code.FailedPrecondition && !isConnectionLost(err))
      throw new CliError(cliWording(err.rawMessage), ExitCode.InvalidArgument);
    throw err;
  }
}

/** Runs a parser of user input, turning its error into a usage error. */
export function usage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new CliError((err as Error).message, ExitCode.Usage);
  }
}
