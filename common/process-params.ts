import { Code, ConnectError } from "@connectrpc/connect";
import type { ExecParams } from "../gen/rmm/v1/exec_pb.js";
import { shellArgs } from "./shell-invocation.js";

/**
 * Longest argv (all arguments together, in UTF-16 units): 32 Ki. The server
 * stores argv whole in the audit trail, a MySQL `text` column of 64 KiB, and
 * checks the stored form's bytes too (escapes and multi-byte characters grow it).
 */
export const MAX_ARGV_CHARS = 32 * 1024;
/** Longest working directory (and terminal shell path): 4096, Linux's PATH_MAX and the audit column's varchar(4096). */
export const MAX_WORKING_DIRECTORY_CHARS = 4096;
/** Longest exec timeout. Defaults to 7 days: longer runs belong in a service, not a tunnel. */
export const MAX_TIMEOUT_MS = 7 * 24 * 3_600_000;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** What to start, resolved from ExecParams: a program and its arguments. */
export interface ProcessSpec {
  /** argv[0] or the shell. */
  program: string;
  args: string[];
  /** Empty: the agent's working directory. */
  cwd: string;
  env: Record<string, string>;
  /** 0: no limit. */
  timeoutMs: number;
}

/**
 * Checks ExecParams and turns them into a ProcessSpec. The server calls this
 * before policy (so policy sees exactly what will run) and the agent calls it
 * again before spawning: a bad request is InvalidArgument on either side.
 */
export function processSpecOf(params: ExecParams | undefined): ProcessSpec {
  if (!params) throw invalid("exec parameters are required: set argv or shell_command");
  const { argv, shellCommand } = params;
  if (argv.length > 0 && shellCommand) throw invalid("set either argv or shell_command, not both");
  let program: string;
  let args: string[];
  if (shellCommand) {
    if (!shellCommand.shell) throw invalid("shell_command.shell is empty: name the shell, for example /bin/sh");
    if (!shellCommand.commandLine.trim()) throw invalid("shell_command.command_line is empty");
    program = shellCommand.shell;
    args = shellArgs(shellCommand.shell, shellCommand.commandLine);
  } else {
    if (argv.length === 0) throw invalid("argv is empty: give the program and its arguments, or a shell_command");
    if (!argv[0]) throw invalid("argv[0] is empty: it names the program to run");
    [program, ...args] = argv as [string, ...string[]];
  }
  if ([program, ...args].some((a) => a.includes("\0"))) throw invalid("arguments may not contain NUL characters");
  if ([program, ...args].reduce((n, a) => n + a.length, 0) > MAX_ARGV_CHARS)
    throw invalid(`argv is longer than ${MAX_ARGV_CHARS} characters`);
  if (params.workingDirectory.length > MAX_WORKING_DIRECTORY_CHARS)
    throw invalid(`working_directory is longer than ${MAX_WORKING_DIRECTORY_CHARS} characters`);
  if (params.workingDirectory.includes("\0")) throw invalid("working_directory may not contain NUL characters");
  const env = checkEnvironment(params.environment);
  let timeoutMs = 0;
  if (params.timeout) {
    timeoutMs = Number(params.timeout.seconds) * 1000 + Math.floor(params.timeout.nanos / 1e6);
    if (timeoutMs < 0 || params.timeout.nanos < 0) throw invalid("timeout may not be negative");
    if (timeoutMs > MAX_TIMEOUT_MS) throw invalid(`timeout may be at most ${MAX_TIMEOUT_MS / 3_600_000} hours`);
  }
  return { program, args, cwd: params.workingDirectory, env, timeoutMs };
}

/** Environment names must be portable identifiers; values may not hold NUL. */
export function checkEnvironment(environment: Record<string, string>): Record<string, string> {
  for (const [name, value] of Object.entries(environment)) {
    if (!ENV_NAME.test(name))
      throw invalid(
        `environment variable name "${name}" is not a valid name (letters, digits and _, not starting with a digit)`,
      );
    if (value.includes("\0")) throw invalid(`environment variable ${name} contains a NUL character`);
  }
  return { ...environment };
}

function invalid(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}
