import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { constants } from "node:os";
import { underParentDeath } from "./parent-death.js";
import type { ProcessGroupLedger } from "./process-group-ledger.js";

/** Time a process tree gets between SIGTERM and SIGKILL. Defaults to 2 s: enough to flush and exit, short enough that a cancel feels immediate. */
export const KILL_GRACE_MS = 2_000;

let ledger: ProcessGroupLedger | undefined;

/** From now on every process group started here is recorded in `groups` until its leader exits (the agent's `run` sets this). */
export function recordProcessGroupsIn(groups: ProcessGroupLedger | undefined): void {
  ledger = groups;
}

/** A process group is running under this agent (an exec tree, a terminal's shell). */
export function groupStarted(pgid: number | undefined): void {
  if (pgid !== undefined && process.platform !== "win32") ledger?.add(pgid);
}

/** Its leader exited: the agent no longer answers for the group. */
export function groupEnded(pgid: number | undefined): void {
  if (pgid !== undefined) ledger?.remove(pgid);
}

/**
 * Starts a program as the leader of its own process group, so the whole tree it
 * spawns (a shell's children, a build's compilers) can be ended with one
 * signal to the group. On Linux the program also gets a parent-death signal, so
 * an agent killed outright does not leave it running; the group is recorded so
 * that the agent's next start ends what is left of it.
 */
export function spawnTree(
  program: string,
  args: string[],
  opts: { cwd?: string; env: NodeJS.ProcessEnv },
): ChildProcessWithoutNullStreams {
  const launch = underParentDeath(program, args);
  const child = spawn(launch.program, launch.args, {
    cwd: opts.cwd || undefined,
    env: opts.env,
    detached: process.platform !== "win32",
    stdio: "pipe",
    windowsHide: true,
  });
  const pid = child.pid;
  groupStarted(pid);
  child.once("exit", () => groupEnded(pid));
  return child;
}

/** Ends the process group led by `pid`: SIGTERM now, SIGKILL after the grace for whatever is left. False when there was no group to signal. */
export function killTree(pid: number, graceMs = KILL_GRACE_MS): boolean {
  if (!signalGroup(pid, "SIGTERM")) return false;
  const timer = setTimeout(() => signalGroup(pid, "SIGKILL"), graceMs);
  timer.unref();
  return true;
}

/** False when the group no longer exists. */
function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    if (process.platform === "win32") process.kill(pid, signal);
    else process.kill(-pid, signal);
    return true;
  } catch {
    // ESRCH: the group is gone. EPERM (a member changed user) cannot be fixed from here, and throwing
    // from the SIGKILL timer would take the agent down with every other channel: report "not signalled".
    return false;
  }
}

/** "SIGKILL" for 9; node-pty reports signals as numbers. */
export function signalName(signal: number): string {
  for (const [name, n] of Object.entries(constants.signals)) if (n === signal) return name;
  return `signal ${signal}`;
}
