import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** Where util-linux's setpriv is looked for when PATH does not have it (a service's PATH can be minimal). */
const SETPRIV_FALLBACKS = ["/usr/bin/setpriv", "/bin/setpriv"];

let launcher: string[] | undefined;

/**
 * The command that starts a program so that the kernel sends it SIGKILL when the agent dies, however it
 * dies (`kill -9` included): util-linux `setpriv --pdeathsig KILL --`, which sets PR_SET_PDEATHSIG and
 * execs the program in place (same pid, same process group). Empty where that is not available (not
 * Linux, or no setpriv): there only the leftover sweep at the agent's next start ends what a dead agent left.
 */
export function parentDeathLauncher(): string[] {
  launcher ??= process.platform === "linux" ? findSetpriv() : [];
  return launcher;
}

/** `program args` as spawned under the parent-death launcher. */
export function underParentDeath(program: string, args: string[]): { program: string; args: string[] } {
  const [first, ...rest] = parentDeathLauncher();
  return first === undefined ? { program, args } : { program: first, args: [...rest, program, ...args] };
}

function findSetpriv(): string[] {
  const candidates = [
    ...(process.env.PATH ?? "").split(delimiter).map((d) => d && join(d, "setpriv")),
    ...SETPRIV_FALLBACKS,
  ];
  for (const path of candidates) {
    if (!path) continue;
    try {
      accessSync(path, constants.X_OK);
      return [path, "--pdeathsig", "KILL", "--"];
    } catch {
      // Not here: try the next place.
    }
  }
  return [];
}
