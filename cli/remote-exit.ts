import { constants } from "node:os";
import type { ExitStatus } from "../gen/rmm/v1/exec_pb.js";

/** The local exit status for a remote process's end, as shells do: the exit code, or 128 + the signal number. */
export function localExitStatus(exit: ExitStatus): number {
  if (exit.exitCode !== undefined) return exit.exitCode & 0xff;
  const signal = constants.signals[exit.signal as keyof typeof constants.signals];
  return 128 + (signal ?? 0);
}
