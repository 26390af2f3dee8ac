import { accessSync, constants, statSync } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";

/**
 * Checks, before anything is spawned, what would otherwise fail as an
 * asynchronous spawn error: a working directory that is missing or not a
 * directory, a program that is not there or not executable.
 */
export function preflight(program: string, cwd: string, env: NodeJS.ProcessEnv): string {
  if (cwd) {
    let isDir: boolean;
    try {
      isDir = statSync(cwd).isDirectory();
    } catch {
      throw new ConnectError(`working directory ${cwd} does not exist on the agent`, Code.NotFound);
    }
    if (!isDir) throw new ConnectError(`working directory ${cwd} is not a directory`, Code.InvalidArgument);
  }
  return resolveProgram(program, cwd, env);
}

/** The path a program name resolves to, as the spawned process would find it. */
export function resolveProgram(program: string, cwd: string, env: NodeJS.ProcessEnv): string {
  if (program.includes("/") || program.includes("\\")) {
    const path = isAbsolute(program) ? program : join(cwd || process.cwd(), program);
    if (!isExecutable(path))
      throw new ConnectError(`program ${program} does not exist on the agent or is not executable`, Code.NotFound);
    return program;
  }
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir && isExecutable(join(dir, program))) return program;
  }
  throw new ConnectError(`program ${program} was not found on the agent's PATH`, Code.NotFound);
}

function isExecutable(path: string): boolean {
  try {
    // No exception for a missing entry: most PATH directories lack the program, and building an error for
    // each cost more than the stat itself.
    if (!statSync(path, { throwIfNoEntry: false })?.isFile()) return false;
    if (process.platform !== "win32") accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
