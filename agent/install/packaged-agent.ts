import { dirname } from "node:path";
import { isSea } from "node:sea";

/** The executable's file name inside the package and the install prefix. */
export const EXECUTABLE_NAME = process.platform === "win32" ? "rmm-agent.exe" : "rmm-agent";

/**
 * The directory of the packaged agent (a Node single-executable application:
 * the executable with its PTY addon under node_modules/ beside it), or
 * undefined when this agent runs from a clone under a separate node.
 */
export function packagedAgentDir(): string | undefined {
  return isSea() ? dirname(process.execPath) : undefined;
}
