import { Code } from "@connectrpc/connect";
import { CliError, exitCodeFor } from "./cli-error.js";

/** A channel that ended with a non-zero code, as one line and the exit status its code maps to. */
export function channelError(code: number, message: string): CliError {
  return new CliError(message || `the channel ended with code ${Code[code] ?? code}`, exitCodeFor(code));
}
