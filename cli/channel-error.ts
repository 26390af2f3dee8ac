import { Code, ConnectError } from "@connectrpc/connect";
import { CliError, exitCodeFor, isConnectionLost, connectionLostError } from "./cli-error.js";
import { cliWording } from "./cli-wording.js";

/**
 * A channel that ended with a non-zero code, as one line and the exit status
 * its code maps to. A channel cut by a lost connection is the server gone
 * (7), not an interrupt or a conflict; a session closed under it says why.
 */
export function channelError(code: number, message: string): CliError {
  if (isConnectionLost(new ConnectError(message, code))) return connectionLostError(message);
  const agentGone = /^session closed: agent_disconnected/.test(message);
  if (agentGone)
    return new CliError(
      `the agent disconnected (${message}): it is restarting or offline; rmm agents shows when it is back`,
      exitCodeFor(Code.Unavailable),
    );
  return new CliError(cliWording(message) || `the channel ended with code ${Code[code] ?? code}`, exitCodeFor(code));
}
